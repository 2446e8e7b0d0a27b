/* Stand-in for bcryptprimitives.dll, which Wine 8.0 lacks: Rust's std
 * (>= 1.78) imports ProcessPrng from it. Built with mingw by ci/windows.sh
 * and dropped into the Wine prefix only; never shipped. */
#include <windows.h>
#define RtlGenRandom SystemFunction036
BOOLEAN WINAPI RtlGenRandom(PVOID buf, ULONG len);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len) {
        ULONG c = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!RtlGenRandom(data, c)) return FALSE;
        data += c;
        len -= c;
    }
    return TRUE;
}
