/* volk's implementation, compiled into the sandbox under renamed symbols (see CMakeLists.txt). */
#include "volk_rename.h"
#include <volk.c>
