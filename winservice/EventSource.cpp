#include "winservice/EventSource.h"

#include <windows.h>

#include <string>

namespace te {

void registerEventSource() {
    wchar_t exe[MAX_PATH + 1] = {};
    DWORD n = ::GetModuleFileNameW(nullptr, exe, MAX_PATH);
    if (n == 0 || n >= MAX_PATH) return;
    std::string source(kEventSource);
    std::wstring key = L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\" +
                       std::wstring(source.begin(), source.end());  // ASCII
    HKEY hKey = nullptr;
    if (::RegCreateKeyExW(HKEY_LOCAL_MACHINE, key.c_str(), 0, nullptr, REG_OPTION_NON_VOLATILE,
                          KEY_SET_VALUE, nullptr, &hKey, nullptr) != ERROR_SUCCESS) {
        return;
    }
    const auto bytes = static_cast<DWORD>((n + 1) * sizeof(wchar_t));
    DWORD categories = 8;  // one per Poco priority
    DWORD types = EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE | EVENTLOG_INFORMATION_TYPE;
    ::RegSetValueExW(hKey, L"EventMessageFile", 0, REG_SZ, reinterpret_cast<const BYTE*>(exe),
                     bytes);
    ::RegSetValueExW(hKey, L"CategoryMessageFile", 0, REG_SZ, reinterpret_cast<const BYTE*>(exe),
                     bytes);
    ::RegSetValueExW(hKey, L"CategoryCount", 0, REG_DWORD,
                     reinterpret_cast<const BYTE*>(&categories), sizeof categories);
    ::RegSetValueExW(hKey, L"TypesSupported", 0, REG_DWORD, reinterpret_cast<const BYTE*>(&types),
                     sizeof types);
    ::RegCloseKey(hKey);
}

}  // namespace te
