/* compare_llamacpp: the prebuilt llama.cpp library of the llama-cpp-cffi wheel is linked against
   libstdc++ 14, which defines this symbol; older systems (Debian 12: libstdc++ 12) lack it. It is only
   reached when an exception escapes a noexcept frame, where libstdc++ would terminate too. */
#include <stdlib.h>

void __cxa_call_terminate(void *exception) {
    (void)exception;
    abort();
}
