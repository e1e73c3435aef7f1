export const runSimulateCommand = async (_args: string[]): Promise<number> => {
  console.error('simulate: not implemented yet');
  return 1;
};
