/**
 * The shipped monitoring, read for tests and CI: the Grafana dashboard
 * (deploy/grafana/webex-cdr-kafka.json) and the Prometheus alerting rules
 * (deploy/prometheus/alerts.yml), each parsed with zod, and their PromQL
 * parsed with Prometheus's own grammar (@prometheus-io/lezer-promql). A
 * query that does not parse throws; a parsed one yields the metric names it
 * selects, its label matchers, and the metrics under rate()/increase().
 *
 * `dashboardAsRules()` writes the dashboard's queries as recording rules, so
 * that `promtool check rules` (.ci/prom-check) checks them with the Go parser too.
 */
import { readFileSync } from 'node:fs';
import { parser } from '@prometheus-io/lezer-promql';
import { parse } from 'yaml';
import { z } from 'zod';

const root = new URL('../../', import.meta.url);
export const DASHBOARD_PATH = 'deploy/grafana/webex-cdr-kafka.json';
export const ALERTS_PATH = 'deploy/prometheus/alerts.yml';
export const ALERTS_TEST_PATH = 'deploy/prometheus/alerts.test.yml';
export const readText = (path: string) => readFileSync(new URL(path, root), 'utf8');

/** Every panel queries the dashboard's data source variable, `${datasource}`. */
export const DATASOURCE = { type: 'prometheus', uid: ['$', '{datasource}'].join('') } as const;
const datasource = z.strictObject({
  type: z.literal('prometheus'),
  uid: z.literal(DATASOURCE.uid),
});

const gridPos = z.strictObject({
  h: z.int().min(1),
  w: z.int().min(1).max(24),
  x: z.int().min(0).max(23),
  y: z.int().min(0),
});

const target = z.strictObject({
  refId: z.string().regex(/^[A-Z]$/),
  datasource,
  expr: z.string().min(1),
  legendFormat: z.string(),
  range: z.literal(true),
});

const thresholds = z.strictObject({
  mode: z.literal('absolute'),
  // Grafana's base step has the value null.
  steps: z
    .array(z.strictObject({ color: z.string().min(1), value: z.number().nullable() }))
    .min(1)
    .refine((s) => s[0]?.value === null, 'the first threshold step is the base (value null)'),
});

// Grafana's unit ids used here (a misspelt unit shows the raw number).
const UNITS = ['short', 's', 'bytes', 'percentunit', 'dateTimeAsIso'] as const;

const fieldConfig = z.strictObject({
  defaults: z
    .object({
      unit: z.enum(UNITS),
      min: z.number().optional(),
      noValue: z.string().optional(),
      thresholds: thresholds.optional(),
      color: z.object({ mode: z.string() }).optional(),
      custom: z.record(z.string(), z.unknown()).optional(),
    })
    .strict(),
  overrides: z.array(
    z.strictObject({
      matcher: z.strictObject({ id: z.literal('byName'), options: z.string() }),
      properties: z.array(z.strictObject({ id: z.string(), value: z.unknown() })),
    }),
  ),
});

const common = {
  id: z.int().min(1),
  title: z.string().min(1),
  gridPos,
};

const queryPanel = {
  ...common,
  description: z.string().min(1),
  datasource,
  fieldConfig,
  targets: z.array(target).min(1),
  // The minimum step: `increase(x[$__interval])` then counts whole Webex intervals.
  interval: z
    .string()
    .regex(/^\d+[smh]$/)
    .optional(),
};

const panel = z.discriminatedUnion('type', [
  z.strictObject({
    ...common,
    type: z.literal('row'),
    collapsed: z.literal(false),
    panels: z.array(z.never()),
  }),
  z.strictObject({
    ...queryPanel,
    type: z.literal('timeseries'),
    options: z.strictObject({
      legend: z.strictObject({
        displayMode: z.enum(['list', 'table', 'hidden']),
        placement: z.enum(['bottom', 'right']),
        showLegend: z.boolean(),
        calcs: z.array(z.enum(['sum', 'max', 'mean', 'lastNotNull'])),
      }),
      tooltip: z.strictObject({ mode: z.enum(['single', 'multi']), sort: z.enum(['asc', 'desc']) }),
    }),
  }),
  z.strictObject({
    ...queryPanel,
    type: z.literal('stat'),
    options: z.strictObject({
      reduceOptions: z.strictObject({
        calcs: z.array(z.enum(['lastNotNull'])).length(1),
        fields: z.literal(''),
        values: z.literal(false),
      }),
      colorMode: z.enum(['background', 'value', 'none']),
      graphMode: z.enum(['none', 'area']),
      textMode: z.enum(['auto', 'value', 'value_and_name']),
      justifyMode: z.literal('auto'),
      orientation: z.literal('auto'),
    }),
  }),
]);
export type Panel = z.infer<typeof panel>;

export const dashboardSchema = z.strictObject({
  title: z.string().min(1),
  uid: z.string().regex(/^[a-zA-Z0-9_-]{1,40}$/),
  description: z.string(),
  tags: z.array(z.string()),
  editable: z.boolean(),
  graphTooltip: z.union([z.literal(0), z.literal(1), z.literal(2)]),
  // Grafana migrates older dashboards on load; 39 is Grafana 10.4 / 11.
  schemaVersion: z.int().min(36),
  version: z.int(),
  time: z.strictObject({ from: z.string(), to: z.string() }),
  refresh: z.string(),
  timezone: z.enum(['utc', 'browser', '']),
  annotations: z.strictObject({ list: z.array(z.unknown()) }),
  links: z.array(z.unknown()),
  templating: z.strictObject({
    list: z
      .array(
        z.strictObject({
          name: z.literal('datasource'),
          label: z.string(),
          type: z.literal('datasource'),
          query: z.literal('prometheus'),
          current: z.object({}),
          hide: z.literal(0),
          refresh: z.literal(1),
          regex: z.literal(''),
          options: z.array(z.never()),
        }),
      )
      .length(1),
  }),
  panels: z.array(panel).min(1),
});
export type Dashboard = z.infer<typeof dashboardSchema>;

export const readDashboard = (): Dashboard =>
  dashboardSchema.parse(JSON.parse(readText(DASHBOARD_PATH)));

const rule = z.strictObject({
  alert: z.string().regex(/^WebexCdr[A-Za-z]+$/),
  expr: z.string().min(1),
  for: z
    .string()
    .regex(/^\d+[smh]$/)
    .optional(),
  labels: z.strictObject({
    severity: z.enum(['critical', 'warning']),
    component: z.enum(['ingress', 'reconciler']),
  }),
  annotations: z.strictObject({
    summary: z.string().min(1),
    description: z.string().min(1),
    runbook_url: z.string().regex(/^docs\/monitoring\.md#[a-z0-9-]+$/),
  }),
});
export type AlertRule = z.infer<typeof rule>;

export const readAlertRules = (): AlertRule[] =>
  z
    .strictObject({
      groups: z.array(z.strictObject({ name: z.string(), rules: z.array(rule).min(1) })).length(1),
    })
    .parse(parse(readText(ALERTS_PATH)))
    .groups.flatMap((g) => g.rules);

/** The alert rule tests: which alert is evaluated when, and whether it is expected to fire. */
export const readAlertTests = () =>
  z
    .object({
      rule_files: z.array(z.string()),
      tests: z.array(
        z.object({
          name: z.string(),
          alert_rule_test: z.array(
            z.object({
              eval_time: z.string(),
              alertname: z.string(),
              exp_alerts: z.array(z.object({ exp_labels: z.record(z.string(), z.string()) })),
            }),
          ),
        }),
      ),
    })
    .parse(parse(readText(ALERTS_TEST_PATH)));

/** Grafana's interval variables, as a Prometheus duration (the only variables the queries use). */
export const withoutGrafanaVariables = (expr: string): string => {
  const plain = expr.replaceAll(/\$__(rate_interval|interval|range)\b/g, '5m');
  if (plain.includes('$')) throw new Error(`an unexpected Grafana variable in: ${expr}`);
  return plain;
};

/** One vector selector of a query: the metric, its label matchers, and what it is inside of. */
export type Selector = {
  metric: string;
  matchers: { label: string; op: string; value: string }[];
  /** Inside rate(), irate() or increase(): must be a counter (or a histogram's series). */
  rated: boolean;
  /** Inside histogram_quantile(): must be a histogram's `_bucket`. */
  quantiled: boolean;
};
export type Query = { selectors: Selector[]; grouping: Set<string> };

type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

const RATE_FUNCTIONS: ReadonlySet<string> = new Set(['Rate', 'Irate', 'Increase']);
const QUANTILE_FUNCTIONS: ReadonlySet<string> = new Set(['HistogramQuantile']);

const within = (node: SyntaxNode, functions: ReadonlySet<string>): boolean => {
  for (let p = node.parent; p !== null; p = p.parent) {
    const fn = p.name === 'FunctionCall' ? p.getChild('FunctionIdentifier')?.firstChild : null;
    if (fn && functions.has(fn.name)) return true;
  }
  return false;
};

/** Parses PromQL with Prometheus's grammar; throws at the first syntax error. */
export const parsePromql = (expr: string): Query => {
  const q: Query = { selectors: [], grouping: new Set() };
  const text = (n: SyntaxNode) => expr.slice(n.from, n.to);
  parser.parse(expr).iterate({
    enter: (ref) => {
      const n = ref.node;
      if (n.type.isError) {
        throw new Error(`PromQL syntax error at ${n.from}: ${expr.slice(0, n.from)} <here>`);
      }
      if (n.name === 'QuotedLabelMatcher' || n.name === 'QuotedLabelName') {
        throw new Error(`quoted (UTF-8) names are not used here: ${expr}`);
      }
      if (n.name === 'LabelName' && n.parent?.name === 'GroupingLabels') q.grouping.add(text(n));
      if (n.name !== 'VectorSelector') return;
      const metric = n.getChild('Identifier');
      if (metric === null) throw new Error(`a selector without a metric name in: ${expr}`);
      const matchers = (n.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? []).map(
        (m) => {
          const [label, op, value] = ['LabelName', 'MatchOp', 'StringLiteral'].map((c) =>
            m.getChild(c),
          );
          if (!label || !op || !value) throw new Error(`a bad matcher in: ${expr}`);
          return { label: text(label), op: text(op), value: JSON.parse(text(value)) as string };
        },
      );
      q.selectors.push({
        metric: text(metric),
        matchers,
        rated: within(n, RATE_FUNCTIONS),
        quantiled: within(n, QUANTILE_FUNCTIONS),
      });
    },
  });
  return q;
};

export type NamedQuery = { where: string; expr: string };

export const dashboardQueries = (d: Dashboard = readDashboard()): NamedQuery[] =>
  d.panels.flatMap((p) =>
    p.type === 'row'
      ? []
      : p.targets.map((t) => ({ where: `panel ${p.id} "${p.title}" ${t.refId}`, expr: t.expr })),
  );

export const ruleQueries = (rules: AlertRule[] = readAlertRules()): NamedQuery[] =>
  rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }));

/** The dashboard's queries as one group of recording rules, for `promtool check rules`. */
export const dashboardAsRules = (d: Dashboard = readDashboard()): string => {
  const rules = d.panels.flatMap((p) =>
    p.type === 'row'
      ? []
      : p.targets.map((t) => ({
          record: `dashboard:panel_${p.id}_${t.refId}`,
          expr: withoutGrafanaVariables(t.expr),
        })),
  );
  return `${JSON.stringify({ groups: [{ name: 'dashboard-queries', rules }] }, null, 2)}\n`;
};

/** GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens. */
export const headingAnchors = (markdown: string): Set<string> =>
  new Set(
    [...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
      (m[1] ?? '')
        .trim()
        .toLowerCase()
        .replaceAll(/[^\p{L}\p{N} _-]/gu, '')
        .replaceAll(' ', '-'),
    ),
  );
