// ESLint for pai: the recommended JavaScript and typescript-eslint rules, run by `npm test` (npm run lint).
// Choices that fit the code as it is meant to be:
// - unused names are errors, except those starting with `_` (placeholders in destructuring and in
//   callbacks whose signature is fixed);
// - `any` is allowed where a comment says why (eslint-disable-next-line), nowhere by default;
// - non-null assertions are allowed: strict indexing (noUncheckedIndexedAccess) makes `a[i]!` the
//   idiom of the numeric loops; where a type can say it instead, it should.
// The formatting rules (@stylistic) describe the code's layout as it is written: single quotes,
// semicolons, trailing commas in multi-line lists, one blank line at most, spaces around operators
// and after keywords. `npm run format` (eslint --fix) applies them; lines are not wrapped by length.
import js from '@eslint/js';
import stylistic from '@stylistic/eslint-plugin';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'docs/', 'node_modules/', 'native/', '**/*.gen.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: {
        process: 'readonly', console: 'readonly', Buffer: 'readonly', performance: 'readonly', URL: 'readonly',
        setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly',
        setImmediate: 'readonly', structuredClone: 'readonly', TextDecoder: 'readonly', TextEncoder: 'readonly',
        SharedArrayBuffer: 'readonly', Atomics: 'readonly', AbortController: 'readonly', queueMicrotask: 'readonly',
      },
    },
    plugins: { '@stylistic': stylistic },
    rules: {
      '@stylistic/quotes': ['error', 'single', { avoidEscape: true, allowTemplateLiterals: 'always' }],
      '@stylistic/semi': ['error', 'always'],
      '@stylistic/comma-dangle': ['error', 'always-multiline'],
      '@stylistic/no-trailing-spaces': 'error',
      '@stylistic/eol-last': 'error',
      '@stylistic/no-multiple-empty-lines': ['error', { max: 1, maxEOF: 0 }],
      '@stylistic/keyword-spacing': 'error',
      '@stylistic/space-infix-ops': 'error',
      '@stylistic/arrow-parens': ['error', 'always'],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
