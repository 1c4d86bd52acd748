# Included by worker/CMakeLists.txt on Windows: the win32 side of worker/Platform.h.
list(APPEND TASKENGINE_WORKER_SOURCES
  win32/Win32ChildProcess.cpp
  win32/Win32Platform.cpp
)
