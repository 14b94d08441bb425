// ESLint for pai: the recommended JavaScript and typescript-eslint rules, run by `npm test` (npm run lint).
// Choices that fit the code as it is meant to be:
// - unused names are errors, except those starting with `_` (placeholders in destructuring and in
//   callbacks whose signature is fixed);
// - `any` is allowed where a comment says why (eslint-disable-next-line), nowhere by default;
// - non-null assertions (`x!`) are errors in src/, bench/, scripts/ and examples/: a type says it
//   instead. tsconfig's noUncheckedIndexedAccess types every a[i] as possibly undefined; the code
//   narrows it with a tuple type (op inputs, shapes of known rank), a discriminated union, a check
//   that throws where a missing value would be a bug (src/tensor/checked.ts: defined, at, zip, ...)
//   or, in per-element loops, a read into a local checked in the loop (`if (v === undefined)
//   throw`), which V8 removes for an index inside the array where a helper call per element would
//   cost. Two places keep `!`, each by a files-scoped override below:
//   - src/kernels/js/**, the reference backend: its kernels index several typed arrays per element
//     in their innermost loops (convolution and pooling windows, strided copies, CSR rows), over
//     buffers whose sizes the ops derive from the shapes; `a[i]!` is the readable form there, and
//     the tests hold every native kernel to these;
//   - test/**: about 900 assertions on values a test has just built or computed; a missing one
//     fails that test at that line, so rewriting them would add checks without adding safety.
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
      '@typescript-eslint/no-non-null-assertion': 'error',
    },
  },
  {
    // The reference kernels' innermost loops (see above).
    files: ['src/kernels/js/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    // Tests assert on values they just built; a missing one fails the test (see above).
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
