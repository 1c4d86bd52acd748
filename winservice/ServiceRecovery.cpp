#include "winservice/ServiceRecovery.h"

#include <windows.h>

namespace te {
namespace {

struct ScHandle {
    SC_HANDLE h;
    ~ScHandle() {
        if (h) ::CloseServiceHandle(h);
    }
};

std::string errorText(const char* what) {
    return std::string(what) + " failed: error " + std::to_string(::GetLastError());
}

}  // namespace

std::string configureServiceRecovery(const std::string& serviceName) {
    ScHandle manager{::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT)};
    if (!manager.h) return errorText("OpenSCManager");
    std::wstring name(serviceName.begin(), serviceName.end());  // the name is ASCII
    ScHandle service{
        ::OpenServiceW(manager.h, name.c_str(), SERVICE_CHANGE_CONFIG | SERVICE_START)};
    if (!service.h) return errorText("OpenService");

    SC_ACTION actions[3] = {
        {SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 10000}, {SC_ACTION_RESTART, 60000}};
    SERVICE_FAILURE_ACTIONSW failure{};
    failure.dwResetPeriod = 24 * 60 * 60;
    failure.cActions = 3;
    failure.lpsaActions = actions;
    if (!::ChangeServiceConfig2W(service.h, SERVICE_CONFIG_FAILURE_ACTIONS, &failure)) {
        return errorText("ChangeServiceConfig2(FAILURE_ACTIONS)");
    }
    // Also count a non-zero exit code as a failure, not only a crash.
    SERVICE_FAILURE_ACTIONS_FLAG flag{TRUE};
    // ERROR_INVALID_LEVEL: a system (Wine) without this setting; crashes still restart.
    if (!::ChangeServiceConfig2W(service.h, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag) &&
        ::GetLastError() != ERROR_INVALID_LEVEL) {
        return errorText("ChangeServiceConfig2(FAILURE_ACTIONS_FLAG)");
    }
    return "";
}

}  // namespace te
