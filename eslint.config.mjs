// Zone boundaries (see CONVENTIONS.md): the pure core and the webview never import `vscode` or `node:*`;
// the core never imports a runtime (onnxruntime comes in through src/core/runtime.ts).
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['fs', 'path', 'os', 'child_process', 'crypto', 'util', 'url', 'stream', 'buffer', 'worker_threads', 'zlib', 'http', 'https', 'net'];

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.vscode-test/**', 'media/**', '**/*.js', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', ...nodeBuiltins], message: 'src/core is pure: no Node imports (it runs in the webview too).' },
          { group: ['vscode'], message: 'src/core is pure: no vscode imports.' },
          { group: ['onnxruntime-*'], message: 'The core reaches the runtime only through src/core/runtime.ts.' },
          { group: ['sharp'], message: 'Image decoding lives in src/node/ (Node) and webview/ (browser).' },
        ],
      }],
    },
  },
  {
    files: ['src/protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', ...nodeBuiltins], message: 'src/protocol is shared by the host and the webviews: no Node imports.' },
          { group: ['vscode'], message: 'src/protocol is shared by the host and the webviews: no vscode imports.' },
        ],
      }],
    },
  },
  {
    files: ['webview/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', ...nodeBuiltins], message: 'The webview runs in a browser: no Node imports.' },
          { group: ['vscode'], message: 'The webview talks to the host through messages, not the vscode API.' },
        ],
      }],
    },
  },
);
