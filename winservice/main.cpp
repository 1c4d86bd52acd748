// taskengine-winservice: the worker as a Windows service (winservice/ServiceApp).
// No <windows.h> ahead of POCO's headers: they must include winsock2.h before it.
#include <cwchar>
#include <iostream>

#include "winservice/ServiceApp.h"
#include "winservice/ServiceRecovery.h"

// wmain, as POCO_SERVER_MAIN has it with POCO_WIN32_UTF8, plus one step after
// /registerService: POCO registers the service but has no option for recovery actions.
int wmain(int argc, wchar_t** argv) {
    bool registering = false;
    for (int i = 1; i < argc; ++i) {
        if (::_wcsicmp(argv[i], L"/registerService") == 0) registering = true;
    }
    try {
        te::ServiceApp app;
        int rc = app.run(argc, argv);
        if (rc == Poco::Util::Application::EXIT_OK && registering) {
            std::string problem = te::configureServiceRecovery(te::ServiceApp::kServiceName);
            if (!problem.empty())
                std::cerr << "service recovery not configured: " << problem << std::endl;
        }
        return rc;
    } catch (const Poco::Exception& e) {
        std::cerr << e.displayText() << std::endl;
        return Poco::Util::Application::EXIT_SOFTWARE;
    }
}
