/* Calls with raw ints in enum parameters, made from C (in C++ forming an out-of-range enum
 * value is undefined, and UBSan stops the process on it). */
#include <baton/baton_cuda.h>

batonError_t cudatestDeviceGetAttribute(int* value, int attr, int device);
batonError_t cudatestDeviceGetAttribute(int* value, int attr, int device) {
    return batonDeviceGetAttribute(value, (batonDeviceAttr)attr, device);
}
