#include "sandbox_run.h"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stb/stb_image.h>

extern char** environ;

namespace sandboxtest {
namespace {

struct Parser {
    const std::string& s;
    size_t i = 0;
    void ws() { while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i; }
    bool value(Json* out) {
        ws();
        if (i >= s.size()) return false;
        char c = s[i];
        if (c == '{') {
            out->kind = Json::Object;
            ++i;
            ws();
            if (i < s.size() && s[i] == '}') return ++i, true;
            for (;;) {
                Json key;
                ws();
                if (!value(&key) || key.kind != Json::String) return false;
                ws();
                if (i >= s.size() || s[i++] != ':') return false;
                if (!value(&out->object[key.string])) return false;
                ws();
                if (i < s.size() && s[i] == ',') { ++i; continue; }
                return i < s.size() && s[i++] == '}';
            }
        }
        if (c == '[') {
            out->kind = Json::Array;
            ++i;
            ws();
            if (i < s.size() && s[i] == ']') return ++i, true;
            for (;;) {
                out->array.emplace_back();
                if (!value(&out->array.back())) return false;
                ws();
                if (i < s.size() && s[i] == ',') { ++i; continue; }
                return i < s.size() && s[i++] == ']';
            }
        }
        if (c == '"') {
            out->kind = Json::String;
            ++i;
            while (i < s.size() && s[i] != '"') {
                if (s[i] == '\\' && i + 1 < s.size()) ++i;
                out->string += s[i++];
            }
            return i < s.size() && s[i++] == '"';
        }
        if (s.compare(i, 4, "true") == 0) { out->kind = Json::Bool; out->boolean = true; i += 4; return true; }
        if (s.compare(i, 5, "false") == 0) { out->kind = Json::Bool; i += 5; return true; }
        if (s.compare(i, 4, "null") == 0) { i += 4; return true; }
        char* end = nullptr;
        out->number = std::strtod(s.c_str() + i, &end);
        if (end == s.c_str() + i) return false;
        out->kind = Json::Number;
        i = static_cast<size_t>(end - s.c_str());
        return true;
    }
};

}  // namespace

const Json& Json::operator[](const std::string& key) const {
    static const Json none;
    auto it = object.find(key);
    return it == object.end() ? none : it->second;
}

bool parseJson(const std::string& text, Json* out) {
    Parser p{text};
    return p.value(out);
}

std::string readFile(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

bool readJsonFile(const std::string& path, Json* out) { return parseJson(readFile(path), out); }

int runProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env, const std::string& logPath) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<std::string> envStrings;
    for (char** e = environ; *e; ++e) envStrings.emplace_back(*e);
    for (const auto& e : env) envStrings.push_back(e);
    std::vector<char*> envp;
    for (auto& e : envStrings) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, logPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return -1;
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string scratchDir(const std::string& name) {
    std::string dir = "sandbox-test-out/" + name;
    mkdir("sandbox-test-out", 0755);
    mkdir(dir.c_str(), 0755);
    return dir;
}

bool readPng(const std::string& path, Image* out) {
    int n = 0;
    unsigned char* p = stbi_load(path.c_str(), &out->width, &out->height, &n, 4);
    if (!p) return false;
    out->rgba.assign(p, p + static_cast<size_t>(out->width) * out->height * 4);
    stbi_image_free(p);
    return true;
}

}  // namespace sandboxtest
