#include <baton/baton.h>
#include <gtest/gtest.h>
#include <unistd.h>

TEST(Smoke, ExportSignalWait) {
    batonExternalSemaphoreExportDesc d{};
    d.type = batonExternalSemaphoreHandleTypeTimelineSemaphoreFd;
    int fd = -1;
    batonExternalSemaphore_t sem = nullptr;
    ASSERT_EQ(batonExportExternalSemaphore(&fd, &sem, &d), batonSuccess) << batonGetLastErrorMessage();
    batonStream_t a, b;
    ASSERT_EQ(batonStreamCreate(&a), batonSuccess);
    ASSERT_EQ(batonStreamCreate(&b), batonSuccess);
    batonExternalSemaphoreWaitParams wp{};
    wp.params.fence.value = 5;
    ASSERT_EQ(batonWaitExternalSemaphoresAsync(&sem, &wp, 1, b), batonSuccess);
    batonExternalSemaphoreSignalParams sp{};
    sp.params.fence.value = 5;
    ASSERT_EQ(batonSignalExternalSemaphoresAsync(&sem, &sp, 1, a), batonSuccess);
    ASSERT_EQ(batonStreamSynchronize(b), batonSuccess);
    ASSERT_EQ(batonExternalSemaphoreHostWait(sem, 5, 1000000000ull), batonSuccess);
    EXPECT_EQ(batonSignalExternalSemaphoresAsync(&sem, &sp, 1, a), batonErrorInvalidValue);
    batonStreamDestroy(a);
    batonStreamDestroy(b);
    batonDestroyExternalSemaphore(sem);
    close(fd);
    batonContext_t ctx;
    ASSERT_EQ(batonCtxGetCurrent(&ctx), batonSuccess);
    unsigned long long errors = 99;
    batonContextGetMessageCount(ctx, batonMessageSeverityError, &errors);
    EXPECT_EQ(errors, 0u);
}
