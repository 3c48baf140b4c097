// cpp-httplib as Debian builds it. Debian ships a compiled libcpp-httplib.so built with these three
// macros (see `pkg-config --cflags cpp-httplib`); they change class layouts, so every file that
// includes httplib.h must define them too, or the objects it makes disagree with the library.
#pragma once

#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#ifndef CPPHTTPLIB_ZLIB_SUPPORT
#define CPPHTTPLIB_ZLIB_SUPPORT
#endif
#ifndef CPPHTTPLIB_BROTLI_SUPPORT
#define CPPHTTPLIB_BROTLI_SUPPORT
#endif

#include <httplib.h>
