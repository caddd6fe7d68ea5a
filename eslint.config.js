// Lint configuration: typescript-eslint's recommended rules over every TypeScript file, plus layering rules.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['node_modules/**', '**/build/**', 'hubble/gen/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The agent runs on any Kubernetes cluster: nothing of the local cluster tool or its node runner.
    files: ['agent/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          group: ['**/cluster/**', '**/nodes/**'],
          message: 'agent/ must not depend on the local cluster (cluster/) or the node runner (nodes/); move shared code to runtime/.',
        }],
      }],
    },
  },
  {
    files: ['test/**/*.ts'],
    // chai assertions such as expect(x).to.be.empty are property reads.
    rules: { '@typescript-eslint/no-unused-expressions': 'off' },
  },
  {
    // The service map page's script runs in the browser.
    files: ['hubble/ui/static/**/*.js'],
    languageOptions: { sourceType: 'script', globals: globals.browser },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
