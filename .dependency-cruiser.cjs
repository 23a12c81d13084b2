/**
 * The layers of docs/design.md, held by `npm test`: a wrong arrow fails CI.
 * transports (api) → commands → domain; projections read entries and the
 * log; monitoring reads state; the composition root (src/server, main.ts)
 * sits on top and nothing imports it.
 */
module.exports = {
  forbidden: [
    {
      name: 'composition-root-on-top',
      comment: 'main.ts and src/server wire everything; nothing below may import them.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(server/|main\\.ts$)' },
      to: { path: '^src/(server/|main\\.ts$)' },
    },
    {
      name: 'domain-is-pure',
      comment: 'The rules import only rules: no log, no state, no transport, no I/O.',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: { path: '^src/(?!domain/)' },
    },
    {
      name: 'domain-does-no-io',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'log-knows-nothing-above',
      comment: 'The log stores bytes; it knows no entry, job or projection.',
      severity: 'error',
      from: { path: '^src/log/' },
      to: { path: '^src/(?!log/)' },
    },
    {
      name: 'projections-below-commands',
      comment: 'Projections apply facts and answer queries; they never decide or answer a request.',
      severity: 'error',
      from: { path: '^src/projections/' },
      to: { path: '^src/(api|commands|monitoring|server)/' },
    },
    {
      name: 'commands-below-transports',
      comment: 'The command layer does not know its transport.',
      severity: 'error',
      from: { path: '^src/commands/' },
      to: { path: '^src/(api|monitoring|server)/' },
    },
    {
      name: 'monitoring-below-transports',
      severity: 'error',
      from: { path: '^src/monitoring/' },
      to: { path: '^src/(api|commands|server)/' },
    },
    {
      name: 'no-circular',
      comment: 'A cycle hides which module is below which.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
