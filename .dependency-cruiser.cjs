/**
 * The layers of docs/design.md, held by `npm test`: a wrong arrow fails CI.
 * transports (api) → commands → domain; projections read entries and the
 * log; monitoring reads state; the composition root (src/server, main.ts)
 * sits on top and nothing imports it.
 */
/** A forbidden arrow; `from` is a path pattern, or dependency-cruiser's own `from` object. */
const forbid = (name, from, to, comment) => ({ name, comment, severity: 'error', from: typeof from === 'string' ? { path: from } : from, to });

module.exports = {
  forbidden: [
    forbid(
      'composition-root-on-top',
      { path: '^src/', pathNot: '^src/(server/|main\\.ts$)' },
      { path: '^src/(server/|main\\.ts$)' },
      'main.ts and src/server wire everything; nothing below may import them.',
    ),
    forbid('domain-is-pure', '^src/domain/', { path: '^src/(?!domain/)' }, 'The rules import only rules: no log, no state, no transport.'),
    forbid('domain-does-no-io', '^src/domain/', { dependencyTypes: ['core'] }, 'No node module in the rules: no clock, no file, no network.'),
    forbid('log-knows-nothing-above', '^src/log/', { path: '^src/(?!log/)' }, 'The log stores bytes; it knows no entry, job or projection.'),
    forbid('projections-below-commands', '^src/projections/', { path: '^src/(api|commands|monitoring|server)/' }, 'Projections apply facts and answer queries; they never decide or answer a request.'),
    forbid('commands-below-transports', '^src/commands/', { path: '^src/(api|monitoring|server)/' }, 'The command layer does not know its transport.'),
    forbid('monitoring-below-transports', '^src/monitoring/', { path: '^src/(api|commands|server)/' }, 'Monitoring reads state; it serves no request and decides nothing.'),
    forbid('no-circular', '^src/', { circular: true }, 'A cycle hides which module is below which.'),
    forbid('not-to-unresolvable', '^src/', { couldNotResolve: true }, 'An import that does not resolve is a typo or a missing file.'),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
