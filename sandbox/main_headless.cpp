// baton-sandbox-headless: the sandbox without a window (no GLFW, no X libraries linked).
#include <cstdio>

#include "app.h"
#include "headless.h"

int main(int argc, char** argv) {
    sandbox::installStopHandlers();
    sandbox::Options options;
    if (!sandbox::parseOptions(argc, argv, false, &options)) return 1;
    if (options.help) {
        sandbox::printHelp(argv[0], false);
        return 0;
    }
    return sandbox::runHeadless(options);
}
