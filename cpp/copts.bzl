"""Compiler flags for weightstream's own C++ (not third-party code)."""

WS_COPTS = [
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wno-unused-parameter",
]
