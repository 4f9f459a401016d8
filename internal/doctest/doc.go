// Package doctest holds the tests that keep the README, docs/ and the
// package documentation honest: every Go snippet they show must be run,
// verbatim, by some test of the repository; every relative link and
// anchor of the Markdown files, and every docs/ page and anchor a Go
// comment names, must resolve; and the README stays short
// (at most 350 lines: the detail goes to docs/). It has no code of its
// own.
package doctest
