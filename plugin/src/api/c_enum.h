// Reading enums that a C caller filled in. C lets any int through an enum parameter or
// field, but in C++ loading an enum whose value lies outside the enum's range (e.g. -1 for
// one whose values are 1..10) is undefined, and UBSan stops the process on it. Every entry
// point reads such a value through rawEnum() and compares ints.
#pragma once

#include <cstring>
#include <type_traits>

namespace baton {

template <class E>
int rawEnum(const E& e) {
    static_assert(std::is_enum_v<E> && sizeof(E) == sizeof(int), "a C enum");
    int v;
    std::memcpy(&v, &e, sizeof v);  // reads the bits, not the enum
    return v;
}

}  // namespace baton
