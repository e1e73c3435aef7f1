export const runReconcileCommand = async (_args: string[]): Promise<number> => {
  console.error('reconcile: not implemented yet');
  return 1;
};
