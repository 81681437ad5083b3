// The wide-character ncurses API, plus the few things Swift cannot import by itself: attribute
// macros built with NCURSES_BITS, the mutable globals that strict concurrency refuses to read,
// wcwidth and nl_langinfo, which the Glibc module hides, and the variadic ioctl.
#ifndef STAGELINK_CNCURSESW_SHIM_H
#define STAGELINK_CNCURSESW_SHIM_H

#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif

#include <locale.h>
#include <langinfo.h>
#include <sys/ioctl.h>
#include <wchar.h>
#include <ncursesw/curses.h>

static inline attr_t stagelink_attr_bold(void) { return A_BOLD; }
static inline attr_t stagelink_attr_dim(void) { return A_DIM; }
static inline attr_t stagelink_attr_reverse(void) { return A_REVERSE; }
static inline attr_t stagelink_attr_underline(void) { return A_UNDERLINE; }
static inline attr_t stagelink_attr_italic(void) { return A_ITALIC; }
static inline attr_t stagelink_attr_standout(void) { return A_STANDOUT; }

static inline WINDOW *stagelink_stdscr(void) { return stdscr; }
static inline int stagelink_lines(void) { return LINES; }
static inline int stagelink_cols(void) { return COLS; }
static inline int stagelink_colors(void) { return COLORS; }
static inline int stagelink_color_pairs(void) { return COLOR_PAIRS; }

static inline int stagelink_wcwidth(wchar_t character) { return wcwidth(character); }
static inline const char *stagelink_codeset(void) { return nl_langinfo(CODESET); }

// ioctl is variadic, which Swift cannot call: the terminal's size after SIGWINCH.
static inline int stagelink_window_size(int descriptor, int *rows, int *columns) {
    struct winsize size;
    if (ioctl(descriptor, TIOCGWINSZ, &size) != 0) return -1;
    *rows = size.ws_row;
    *columns = size.ws_col;
    return 0;
}

#endif
