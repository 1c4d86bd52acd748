// The Windows side of worker/Platform.h.
//
// Why CreateProcessW and a job object rather than Poco::Process: killing a task must end
// everything it started, and only a job object gives that on Windows. Strings cross the API as
// UTF-16; the rest of the worker speaks UTF-8.

#include <windows.h>

#include <algorithm>
#include <cwctype>
#include <mutex>
#include <vector>

#include "shared/Errors.h"
#include "worker/Platform.h"
#include "worker/win32/Win32ChildProcess.h"

namespace te::platform {
namespace {

std::wstring widen(const std::string& s) {
    if (s.empty()) return {};
    int n = ::MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), nullptr, 0);
    std::wstring w(static_cast<std::size_t>(n), L'\0');
    ::MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), w.data(), n);
    return w;
}

std::string narrow(const std::wstring& w) {
    if (w.empty()) return {};
    int n = ::WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), nullptr, 0,
                                  nullptr, nullptr);
    std::string s(static_cast<std::size_t>(n), '\0');
    ::WideCharToMultiByte(CP_UTF8, 0, w.data(), static_cast<int>(w.size()), s.data(), n, nullptr,
                          nullptr);
    return s;
}

std::string lastErrorText(DWORD code) {
    wchar_t* text = nullptr;
    DWORD n = ::FormatMessageW(
        FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
        nullptr, code, 0, reinterpret_cast<wchar_t*>(&text), 0, nullptr);
    std::string out = n ? narrow(std::wstring(text, n)) : "error " + std::to_string(code);
    if (text) ::LocalFree(text);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r' || out.back() == '.'))
        out.pop_back();
    return out;
}

// One argument quoted so that CommandLineToArgvW and the MSVC runtime give it back unchanged:
// backslashes are literal except before a quote, where they are doubled.
void appendQuoted(std::wstring& line, const std::wstring& arg) {
    if (!arg.empty() && arg.find_first_of(L" \t\n\v\"") == std::wstring::npos) {
        line += arg;
        return;
    }
    line += L'"';
    std::size_t backslashes = 0;
    for (wchar_t c : arg) {
        if (c == L'\\') {
            ++backslashes;
            continue;
        }
        if (c == L'"')
            line.append(backslashes * 2 + 1, L'\\');
        else
            line.append(backslashes, L'\\');
        backslashes = 0;
        line += c;
    }
    line.append(backslashes * 2, L'\\');
    line += L'"';
}

std::wstring commandLine(const std::vector<std::string>& argv) {
    std::wstring line;
    for (std::size_t i = 0; i < argv.size(); ++i) {
        if (i) line += L' ';
        appendQuoted(line, widen(argv[i]));
    }
    return line;
}

// The environment block: NAME=VALUE\0 ... \0, sorted without regard to case as Windows wants.
std::wstring environmentBlock(const std::map<std::string, std::string>& env) {
    std::vector<std::wstring> entries;
    for (const auto& [k, v] : env) entries.push_back(widen(k) + L"=" + widen(v));
    std::sort(entries.begin(), entries.end(), [](const std::wstring& a, const std::wstring& b) {
        return ::_wcsicmp(a.c_str(), b.c_str()) < 0;
    });
    std::wstring block;
    for (const auto& e : entries) {
        block += e;
        block += L'\0';
    }
    if (entries.empty()) block += L'\0';
    block += L'\0';
    return block;
}

bool isRegularFile(const std::wstring& path) {
    DWORD attrs = ::GetFileAttributesW(path.c_str());
    return attrs != INVALID_FILE_ATTRIBUTES && !(attrs & FILE_ATTRIBUTE_DIRECTORY);
}

// Only programs CreateProcess starts itself. A .bat or .cmd would be run through cmd.exe,
// which re-parses its arguments: that is a shell, and tasks never go through one.
bool isRunnable(const std::wstring& path) {
    if (path.size() < 4) return false;
    std::wstring ext = path.substr(path.size() - 4);
    for (auto& c : ext) c = static_cast<wchar_t>(std::towlower(c));
    return (ext == L".exe" || ext == L".com") && isRegularFile(path);
}

std::wstring fullPath(const std::wstring& path) {
    DWORD n = ::GetFullPathNameW(path.c_str(), 0, nullptr, nullptr);
    if (n == 0) return path;
    std::wstring out(n, L'\0');
    n = ::GetFullPathNameW(path.c_str(), n, out.data(), nullptr);
    out.resize(n);
    return out;
}

// The path itself if runnable, else with .exe / .com appended (as Windows' own search does).
std::string tryProgram(const std::wstring& path) {
    std::wstring full = fullPath(path);
    for (const wchar_t* ext : {L"", L".exe", L".com"}) {
        if (isRunnable(full + ext)) return narrow(full + ext);
    }
    return "";
}

// Inheritable handles are handed to whichever CreateProcess runs next in this process; the
// mutex keeps two launches from inheriting each other's pipe ends (a pipe whose write end
// leaked into another task would never reach end of stream).
std::mutex& launchMutex() {
    static std::mutex m;
    return m;
}

struct Handle {
    HANDLE h = nullptr;
    ~Handle() {
        if (h && h != INVALID_HANDLE_VALUE) ::CloseHandle(h);
    }
    HANDLE release() {
        HANDLE r = h;
        h = nullptr;
        return r;
    }
};

[[noreturn]] void fail(const std::string& what) {
    throw Error(what + ": " + lastErrorText(::GetLastError()));
}

}  // namespace

std::unique_ptr<ChildProcess> launch(const LaunchSpec& spec) {
    if (spec.argv.empty()) throw Error("no command to run");
    std::wstring program = widen(spec.argv[0]);
    std::wstring line = commandLine(spec.argv);
    std::wstring env = environmentBlock(spec.env);
    std::wstring cwd = widen(spec.cwd);

    Handle job;
    job.h = ::CreateJobObjectW(nullptr, nullptr);
    if (!job.h) fail("CreateJobObject");
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits{};
    limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    if (!::SetInformationJobObject(job.h, JobObjectExtendedLimitInformation, &limits,
                                   sizeof limits)) {
        fail("SetInformationJobObject");
    }

    std::lock_guard<std::mutex> lock(launchMutex());
    SECURITY_ATTRIBUTES inherit{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
    Handle outRead, outWrite, errRead, errWrite, nul;
    if (!::CreatePipe(&outRead.h, &outWrite.h, &inherit, 0)) fail("CreatePipe");
    if (!::CreatePipe(&errRead.h, &errWrite.h, &inherit, 0)) fail("CreatePipe");
    // Our ends stay in the worker only.
    ::SetHandleInformation(outRead.h, HANDLE_FLAG_INHERIT, 0);
    ::SetHandleInformation(errRead.h, HANDLE_FLAG_INHERIT, 0);
    nul.h = ::CreateFileW(L"NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, &inherit,
                          OPEN_EXISTING, 0, nullptr);
    if (nul.h == INVALID_HANDLE_VALUE) fail("open NUL");

    STARTUPINFOW si{};
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = nul.h;
    si.hStdOutput = outWrite.h;
    si.hStdError = errWrite.h;
    PROCESS_INFORMATION pi{};
    // Suspended until it is in the job, so not even its first child can escape the job.
    DWORD flags =
        CREATE_UNICODE_ENVIRONMENT | CREATE_SUSPENDED | CREATE_NO_WINDOW | CREATE_NEW_PROCESS_GROUP;
    if (!::CreateProcessW(program.c_str(), line.data(), nullptr, nullptr, TRUE, flags, env.data(),
                          cwd.empty() ? nullptr : cwd.c_str(), &si, &pi)) {
        DWORD code = ::GetLastError();
        if (code == ERROR_FILE_NOT_FOUND || code == ERROR_PATH_NOT_FOUND) {
            throw Error("command not found: " + spec.argv[0]);
        }
        throw Error("cannot start " + spec.argv[0] + ": " + lastErrorText(code));
    }
    Handle process, thread;
    process.h = pi.hProcess;
    thread.h = pi.hThread;
    if (!::AssignProcessToJobObject(job.h, pi.hProcess)) {
        DWORD code = ::GetLastError();
        ::TerminateProcess(pi.hProcess, 255);
        throw Error("cannot put " + spec.argv[0] + " in a job object: " + lastErrorText(code));
    }
    ::ResumeThread(pi.hThread);
    return std::make_unique<Win32ChildProcess>(process.release(), pi.dwProcessId, job.release(),
                                               outRead.release(), errRead.release());
}

std::string resolveExecutable(const std::string& command, const std::string& searchPath) {
    if (command.empty()) return "";
    std::wstring cmd = widen(command);
    if (cmd.find_first_of(L"\\/:") != std::wstring::npos) return tryProgram(cmd);
    std::wstring path = widen(searchPath);
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t end = path.find(L';', start);
        if (end == std::wstring::npos) end = path.size();
        std::wstring dir = path.substr(start, end - start);
        // PATH entries may be quoted when they hold a ';'.
        if (dir.size() >= 2 && dir.front() == L'"' && dir.back() == L'"')
            dir = dir.substr(1, dir.size() - 2);
        if (!dir.empty()) {
            if (dir.back() != L'\\' && dir.back() != L'/') dir += L'\\';
            std::string found = tryProgram(dir + cmd);
            if (!found.empty()) return found;
        }
        start = end + 1;
    }
    return "";
}

std::map<std::string, std::string> currentEnvironment() {
    std::map<std::string, std::string> env;
    wchar_t* block = ::GetEnvironmentStringsW();
    if (!block) return env;
    for (const wchar_t* e = block; *e; e += std::wcslen(e) + 1) {
        // Entries starting with '=' are the per-drive current folders ("=C:=C:\x"); skip them.
        const wchar_t* eq = std::wcschr(e + 1, L'=');
        if (e[0] == L'=' || !eq) continue;
        std::string name = narrow(std::wstring(e, eq));
        // Windows names are case-insensitive, the map is not: the worker looks up "PATH", so
        // the usual "Path" is stored under that spelling.
        if (::_stricmp(name.c_str(), "PATH") == 0) name = "PATH";
        env[name] = narrow(std::wstring(eq + 1));
    }
    ::FreeEnvironmentStringsW(block);
    return env;
}

long long freeDiskMb(const std::string& path) {
    ULARGE_INTEGER available{};
    if (!::GetDiskFreeSpaceExW(widen(path).c_str(), &available, nullptr, nullptr)) {
        throw Error("cannot read free space of " + path + ": " + lastErrorText(::GetLastError()));
    }
    return static_cast<long long>(available.QuadPart / (1024ULL * 1024ULL));
}

std::string hostName() {
    wchar_t buf[MAX_COMPUTERNAME_LENGTH + 1 + 256] = {};
    DWORD size = sizeof buf / sizeof buf[0];
    if (!::GetComputerNameExW(ComputerNameDnsHostname, buf, &size) || size == 0) return "localhost";
    return narrow(std::wstring(buf, size));
}

const char* platformName() { return "windows"; }

}  // namespace te::platform
