// baton.hpp: move-only RAII handles and exception-free results over the C API.
#include <baton/baton.hpp>

#include <atomic>
#include <type_traits>

#include <gtest/gtest.h>
#include <unistd.h>

#include "baton_test.h"

namespace {

template <class T>
constexpr bool kMoveOnly = !std::is_copy_constructible_v<T> && !std::is_copy_assignable_v<T> &&
                           std::is_nothrow_move_constructible_v<T> && std::is_nothrow_move_assignable_v<T>;
static_assert(kMoveOnly<baton::Context>);
static_assert(kMoveOnly<baton::Stream>);
static_assert(kMoveOnly<baton::ExternalSemaphore>);
static_assert(kMoveOnly<baton::Event>);
static_assert(kMoveOnly<baton::Fd>);
static_assert(!std::is_copy_constructible_v<baton::Result<baton::Stream>>);
// The handles are the C handle and nothing else.
static_assert(sizeof(baton::Stream) == sizeof(batonStream_t));

TEST(CppWrapper, FailureCarriesCodeAndMessage) {
    batonContextAttachInfo bad{};  // no instance, no device
    auto ctx = baton::Context::attach(bad);
    ASSERT_FALSE(ctx);
    EXPECT_EQ(ctx.code(), batonErrorInvalidValue);
    EXPECT_STREQ(ctx.error().name(), "batonErrorInvalidValue");
    EXPECT_NE(ctx.error().message.find("batonContextAttachInfo"), std::string::npos) << ctx.error().message;

    baton::Stream defaultStream;  // the NULL stream
    baton::ExternalSemaphore none;
    auto r = defaultStream.signal(none, 1);
    EXPECT_FALSE(r);
    EXPECT_NE(r.code(), batonSuccess);  // a NULL semaphore handle
    EXPECT_FALSE(r.error().message.empty());
    // The message was copied: later calls do not change it.
    std::string copy = r.error().message;
    EXPECT_EQ(batonGetVersion(nullptr), batonErrorInvalidValue);  // another failure, another message
    EXPECT_EQ(r.error().message, copy);
}

TEST(CppWrapper, HandoffThroughWrapper) {
    auto exported = baton::ExternalSemaphore::exportTimeline(0);
    ASSERT_TRUE(exported) << exported.error().message;
    auto producer = baton::Stream::create();
    auto consumer = baton::Stream::create();
    ASSERT_TRUE(producer && consumer);

    int recorded = 0;
    auto rec = producer->record([&](VkCommandBuffer cmd) {
        EXPECT_NE(cmd, VK_NULL_HANDLE);
        ++recorded;
    });
    ASSERT_TRUE(rec) << rec.error().message;
    EXPECT_EQ(recorded, 1) << "record() calls the callable synchronously";

    auto start = baton::Event::create();
    auto end = baton::Event::create();
    ASSERT_TRUE(start && end);
    ASSERT_TRUE(start->record(*producer));
    ASSERT_TRUE(consumer->wait(exported->semaphore, 4));
    ASSERT_TRUE(producer->signal(exported->semaphore, 4));
    ASSERT_TRUE(end->record(*producer));
    ASSERT_TRUE(consumer->synchronize());
    ASSERT_TRUE(exported->semaphore.hostWait(4, 5'000'000'000ull));
    auto info = exported->semaphore.info();
    ASSERT_TRUE(info);
    EXPECT_EQ(info->currentValue, 4u);
    ASSERT_TRUE(end->synchronize());
    auto done = end->query();
    ASSERT_TRUE(done);
    EXPECT_TRUE(*done);
    auto ms = baton::Event::elapsedMs(*start, *end);
    ASSERT_TRUE(ms) << ms.error().message;
    EXPECT_GE(*ms, 0.0f);
    // Refused like the C API: never backwards.
    EXPECT_EQ(producer->signal(exported->semaphore, 4).code(), batonErrorInvalidValue);
}

TEST(CppWrapper, HandlesAreDestroyedAtScopeExit) {
    batonStream_t raw = nullptr;
    batonExternalSemaphore_t rawSem = nullptr;
    int fd = -1;
    {
        auto stream = baton::Stream::create();
        ASSERT_TRUE(stream);
        raw = stream->get();
        auto exported = baton::ExternalSemaphore::exportTimeline(0);
        ASSERT_TRUE(exported);
        rawSem = exported->semaphore.get();
        fd = exported->fd.get();
        EXPECT_TRUE(batontest::fdIsOpen(fd));
        baton::Stream moved = std::move(*stream);  // ownership moves; the source is empty
        EXPECT_FALSE(*stream);
        EXPECT_EQ(moved.get(), raw);
    }
    EXPECT_EQ(batonStreamSynchronize(raw), batonErrorInvalidResourceHandle);
    batonExternalSemaphoreInfo info{};
    EXPECT_EQ(batonExternalSemaphoreGetInfo(rawSem, &info), batonErrorInvalidResourceHandle);
    EXPECT_FALSE(batontest::fdIsOpen(fd)) << "Fd closes what it owns";
}

TEST(CppWrapper, ReleaseHandsOwnershipBack) {
    batonStream_t raw = nullptr;
    {
        auto stream = baton::Stream::create();
        ASSERT_TRUE(stream);
        raw = stream->release();
    }
    BATON_ASSERT_OK(batonStreamSynchronize(raw));
    BATON_ASSERT_OK(batonStreamDestroy(raw));
}

// A failed import leaves the fd with its Fd (still open); a successful one takes it.
TEST(CppWrapper, ImportTakesTheFdOnlyOnSuccess) {
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    close(p[1]);
    baton::Fd notASemaphore(p[0]);
    auto bad = baton::ExternalSemaphore::importFd(batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, notASemaphore);
    EXPECT_FALSE(bad);
    EXPECT_EQ(notASemaphore.get(), p[0]);
    EXPECT_TRUE(batontest::fdIsOpen(p[0]));

    auto exported = baton::ExternalSemaphore::exportTimeline(3);
    ASSERT_TRUE(exported);
    const int fd = exported->fd.get();
    auto imported = baton::ExternalSemaphore::importFd(batonExternalSemaphoreHandleTypeTimelineSemaphoreFd, exported->fd);
    ASSERT_TRUE(imported) << imported.error().message;
    EXPECT_FALSE(exported->fd) << "the import owns the fd now";
    auto info = imported->info();
    ASSERT_TRUE(info);
    EXPECT_EQ(info->currentValue, 3u);
    // A portable import keeps the page's memfd open as its own; a native one hands the fd to
    // the driver, which may close it at once (vkImportSemaphoreFdKHR owns an opaque fd): the
    // NVIDIA driver does.
    if (info->backend == batonSemaphoreBackendPortable) {
        EXPECT_TRUE(batontest::fdIsOpen(fd)) << "the portable import keeps its page's memfd";
    }
}

TEST(CppWrapper, QueryReportsPendingAsFalseNotError) {
    auto stream = baton::Stream::create();
    ASSERT_TRUE(stream);
    auto exported = baton::ExternalSemaphore::exportTimeline(0);
    ASSERT_TRUE(exported);
    ASSERT_TRUE(stream->wait(exported->semaphore, 1));
    auto q = stream->query();
    ASSERT_TRUE(q) << q.error().message;
    EXPECT_FALSE(*q) << "the stream waits for a signal nobody made yet";
    baton::Stream other;  // default stream signals it
    ASSERT_TRUE(other.signal(exported->semaphore, 1));
    ASSERT_TRUE(stream->synchronize());
    q = stream->query();
    ASSERT_TRUE(q);
    EXPECT_TRUE(*q);
}

TEST(CppWrapper, VersionMatchesHeader) {
    auto v = baton::version();
    ASSERT_TRUE(v);
    EXPECT_EQ(*v, BATON_VERSION);
}

}  // namespace
