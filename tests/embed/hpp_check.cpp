// Compiled alone by CTest as C++20 with -Wall -Wextra -Werror -pedantic (and more): the C++
// wrapper must compile cleanly in a strict engine build. Instantiates what is templated.
#include <baton/baton.hpp>

int bathpp_check();
int bathpp_check() {
    auto stream = baton::Stream::create();
    if (!stream) return static_cast<int>(stream.code());
    int calls = 0;
    auto r = stream->record([&](VkCommandBuffer) { ++calls; });
    auto q = stream->query();
    auto v = baton::version();
    baton::Result<float> f = baton::Error{batonErrorNotReady, "x"};
    return calls + static_cast<int>(r.code()) + (q.ok() && *q ? 1 : 0) + std::move(v).valueOr(0) +
           static_cast<int>(std::move(f).valueOr(0.0f));
}
