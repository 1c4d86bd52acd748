#pragma once

#include <string>
#include <vector>

namespace te::test {

// A program started by a test, with stdout and stderr going to files (no pipe can fill up and
// stall it). Killed and reaped by the destructor if still running.
class ProgramRunner {
public:
    ProgramRunner(const std::string& program, const std::vector<std::string>& args,
                  const std::string& outputDir);
    ~ProgramRunner();
    ProgramRunner(const ProgramRunner&) = delete;
    ProgramRunner& operator=(const ProgramRunner&) = delete;

    int pid() const { return _pid; }
    void signal(int sig);
    // The exit code, or -1 if it did not end within timeoutMs (or died of a signal: -2).
    int wait(int timeoutMs);
    std::string out() const;
    std::string err() const;

    // How many lines `text` has (its newlines): a bad flag or config must be reported in one.
    static int lines(const std::string& text);

private:
    int _pid = -1;
    bool _reaped = false;
    std::string _outFile, _errFile;
};

}  // namespace te::test
