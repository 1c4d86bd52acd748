// taskengine-worker: everything lives in the taskengine_worker library (worker/WorkerApp).
#include <Poco/Util/ServerApplication.h>

#include <iostream>

#include "worker/WorkerApp.h"

POCO_SERVER_MAIN(te::WorkerApp)
