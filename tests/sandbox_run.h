// Helpers for the sandbox tests: run an executable as a real child process, read its JSON
// report (a minimal parser: objects, arrays, numbers, strings, booleans) and its PNG.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sandboxtest {

struct Json {
    enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
    double number = 0;
    bool boolean = false;
    std::string string;
    std::vector<Json> array;
    std::map<std::string, Json> object;
    const Json& operator[](const std::string& key) const;
    const Json& operator[](size_t i) const { return array.at(i); }
    double num() const { return number; }
};

// Parses text; returns false on a syntax error.
bool parseJson(const std::string& text, Json* out);
bool readJsonFile(const std::string& path, Json* out);

// Runs argv (argv[0] a path) with the current environment plus `env` (NAME=VALUE), waits,
// returns the exit status (or -1). stdout and stderr go to logPath.
int runProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env, const std::string& logPath);
std::string readFile(const std::string& path);
// A fresh directory under the build tree for one test's outputs.
std::string scratchDir(const std::string& name);

struct Image {
    int width = 0, height = 0;
    std::vector<unsigned char> rgba;
    const unsigned char* at(int x, int y) const { return &rgba[(static_cast<size_t>(y) * width + x) * 4]; }
};
bool readPng(const std::string& path, Image* out);

}  // namespace sandboxtest
