// Package screen puts text on a terminal safely. A model's text is data:
// an escape sequence in it could clear the screen, retitle the window, or
// hide what follows, so every piece of model text shown on a terminal goes
// through Text (or Stream, for text that arrives in pieces), which makes
// control characters visible instead of sending them. It also colours the
// program's own text (Style) and measures what a line takes on screen
// (Width). It serves any stage that shows model text on a terminal; it
// reads and writes no files.
package screen
