/**
 * @module settings
 * The environment, parsed once with zod into each process's typed
 * configuration. Every problem is reported at once; the CLI prints them and
 * exits with code 2. The variable names are the contract with deployments.
 *
 * This module only composes, above the stages it configures: each
 * component's options schema lives beside it (kafka/options.ts,
 * ingress/options.ts, reconciler/options.ts); config/ holds what they are made
 * of and imports no stage: the value shapes and rules (config/schema.ts), the
 * settings of every process (config/process.ts), the sources (environment,
 * CONFIG_FILE, `<NAME>_FILE`: config/sources.ts) and `config check`
 * (config/check.ts).
 */
import { z } from 'zod';
import { type ConfigReport, reportSettings } from './config/check.ts';
import {
  PROCESS_FROM_FILE,
  PROCESS_SECRETS,
  processEnv,
  processRules,
  TOOL_FEED,
  toProcessOptions,
} from './config/process.ts';
import { type ConfigResult, parseSettings } from './config/schema.ts';
import { createSettingSources } from './config/sources.ts';
import {
  INGRESS_FROM_FILE,
  INGRESS_SECRETS,
  type IngressConfig,
  ingressEnv,
  ingressRules,
  toIngressOptions,
} from './ingress/options.ts';
import {
  KAFKA_FROM_FILE,
  KAFKA_SECRETS,
  type KafkaEnv,
  kafkaEnv,
  kafkaRules,
  toKafkaOptions,
} from './kafka/options.ts';
import {
  RECONCILER_FROM_FILE,
  RECONCILER_RETIRED,
  RECONCILER_SECRETS,
  type ReconcilerConfig,
  readRefreshToken,
  reconcilerEnv,
  reconcilerRules,
  toReconcilerOptions,
  webexClientProblems,
} from './reconciler/options.ts';
import { createSettingNames } from './setting-names.ts';

export type { ConfigReport } from './config/check.ts';
export type { ConfigResult } from './config/schema.ts';
export type { IngressConfig } from './ingress/options.ts';
export type { ReconcilerConfig } from './reconciler/options.ts';

/** The settings of every process: Kafka's, then the process's own. */
const base = { ...kafkaEnv.shape, ...processEnv.shape };

/** Each process's settings, without the rules across them (`config check` shows these parsed). */
const FIELDS = {
  ingress: z.object({ ...base, ...ingressEnv.shape }),
  reconcile: z.object({ ...base, ...reconcilerEnv.shape }),
  /** Tools that only read topics: CDR_FEED is unused there. */
  tool: z.object({ ...base, CDR_FEED: TOOL_FEED }),
} as const;

const SCHEMAS = {
  ingress: FIELDS.ingress.check(kafkaRules, processRules, ingressRules),
  reconcile: FIELDS.reconcile.check(kafkaRules, processRules, reconcilerRules),
  tool: FIELDS.tool.check(kafkaRules, processRules),
};

const toBaseConfig = (e: KafkaEnv & z.infer<typeof processEnv>) => ({
  ...toKafkaOptions(e),
  ...toProcessOptions(e),
});

/** What every process has: the Kafka options and the process's own (`parseKafkaConfig`). */
export type BaseConfig = ReturnType<typeof toBaseConfig>;

/** Settings whose values are secret: masked by `config check`, never logged. */
export const SECRET_SETTINGS: ReadonlySet<string> = new Set([
  ...INGRESS_SECRETS,
  ...KAFKA_SECRETS,
  ...RECONCILER_SECRETS,
  ...PROCESS_SECRETS,
]);

/** Settings that may also be given as `<NAME>_FILE` (config/sources.ts). */
export const FROM_FILE = [
  ...INGRESS_FROM_FILE,
  ...KAFKA_FROM_FILE,
  ...RECONCILER_FROM_FILE,
  ...PROCESS_FROM_FILE,
] as const;

/**
 * Every setting name the product reads, from the environment or the config
 * file, in any of its processes (a shared environment is not a typo): the
 * keys of the schemas, CONFIG_FILE and the `<NAME>_FILE` twins.
 */
export const SETTINGS: readonly string[] = [
  ...new Set([
    'CONFIG_FILE',
    ...Object.keys(FIELDS.ingress.shape),
    ...Object.keys(FIELDS.reconcile.shape),
    ...FROM_FILE.map((n) => `${n}_FILE`),
  ]),
].sort();

/** Unknown names under the product's prefixes are refused, with the nearest setting. */
export const SETTING_NAMES = createSettingNames({
  known: SETTINGS,
  retired: RECONCILER_RETIRED,
  fromFile: FROM_FILE,
  hatch: 'IGNORE_ENV',
});

const sources = createSettingSources({
  known: SETTINGS,
  fromFile: FROM_FILE,
  names: SETTING_NAMES,
});

export const parseIngressConfig = (env: NodeJS.ProcessEnv): ConfigResult<IngressConfig> =>
  parseSettings(
    SCHEMAS.ingress,
    (e) => ({ ...toBaseConfig(e), ...toIngressOptions(e) }),
    sources.resolve(env),
  );

export const parseReconcilerConfig = (env: NodeJS.ProcessEnv): ConfigResult<ReconcilerConfig> => {
  const resolved = sources.resolve(env);
  const refresh = readRefreshToken(resolved.values);
  const parsed = parseSettings(
    SCHEMAS.reconcile,
    (e) => ({ ...toBaseConfig(e), ...toReconcilerOptions(e, refresh.token) }),
    resolved,
    refresh.problems,
  );
  if (!parsed.ok) return parsed;
  const refused = webexClientProblems(parsed.config);
  return refused.length > 0 ? { ok: false, problems: refused } : parsed;
};

/** Kafka and registry settings alone, for tools that only read topics (CDR_FEED unused there). */
export const parseKafkaConfig = (env: NodeJS.ProcessEnv): ConfigResult<BaseConfig> =>
  parseSettings(SCHEMAS.tool, toBaseConfig, sources.resolve(env));

/** `config check ingress|reconcile` (config/check.ts). */
export const checkConfig = (which: 'ingress' | 'reconcile', env: NodeJS.ProcessEnv): ConfigReport =>
  reportSettings({
    fields: FIELDS[which],
    resolved: sources.resolve(env),
    result: which === 'ingress' ? parseIngressConfig(env) : parseReconcilerConfig(env),
    secrets: SECRET_SETTINGS,
  });
