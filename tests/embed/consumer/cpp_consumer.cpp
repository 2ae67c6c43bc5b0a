// Uses the installed baton.hpp: a standalone context, a stream and a timeline handoff.
#include <baton/baton.hpp>

#include <cstdio>

int main() {
    batonContextCreateInfo info{};
    auto ctx = baton::Context::create(&info);
    if (!ctx) {
        std::fprintf(stderr, "cpp_consumer: %s: %s\n", ctx.error().name(), ctx.error().message.c_str());
        return 1;
    }
    if (!ctx->makeCurrent()) return 1;
    auto sem = baton::ExternalSemaphore::exportTimeline(0);
    auto stream = baton::Stream::create();
    if (!sem || !stream) return 1;
    if (!stream->signal(sem->semaphore, 1) || !stream->synchronize() || !sem->semaphore.hostWait(1, 5'000'000'000ull))
        return 1;
    auto v = baton::version();
    std::printf("cpp_consumer: baton %d, timeline reached 1\n", v ? *v : -1);
    return 0;
}
