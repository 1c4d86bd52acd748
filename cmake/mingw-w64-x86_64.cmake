# Cross toolchain for 64-bit Windows with Debian's mingw-w64 (g++-mingw-w64-x86-64).
#
# The -posix compiler variant is used on purpose: GCC 12's win32 thread model has no
# std::thread / std::mutex, which the worker and POCO need. Its winpthread, libgcc and
# libstdc++ are linked statically so the .exe files run on Windows (and under Wine) without
# any mingw DLL beside them.
#
# TASKENGINE_WINDOWS_PREFIX (cache variable or environment) is where scripts/build-windows
# installed the cross-built POCO, ZeroMQ, cppzmq and yaml-cpp.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
# Without a version, ZeroMQ's CMake defines an empty _WIN32_WINNT and windows.h breaks.
set(CMAKE_SYSTEM_VERSION 10.0)

set(_triplet x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${_triplet}-gcc-posix)
set(CMAKE_CXX_COMPILER ${_triplet}-g++-posix)
set(CMAKE_RC_COMPILER ${_triplet}-windres)
set(CMAKE_AR ${_triplet}-gcc-ar-posix CACHE FILEPATH "")
set(CMAKE_RANLIB ${_triplet}-gcc-ranlib-posix CACHE FILEPATH "")

if(NOT TASKENGINE_WINDOWS_PREFIX AND DEFINED ENV{TASKENGINE_WINDOWS_PREFIX})
  set(TASKENGINE_WINDOWS_PREFIX $ENV{TASKENGINE_WINDOWS_PREFIX})
endif()
set(TASKENGINE_WINDOWS_PREFIX "${TASKENGINE_WINDOWS_PREFIX}" CACHE PATH
    "Install prefix of the cross-built dependencies")
# try_compile projects get a fresh cache; hand the prefix on to them too.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES TASKENGINE_WINDOWS_PREFIX)

set(CMAKE_FIND_ROOT_PATH /usr/${_triplet} ${TASKENGINE_WINDOWS_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++")
# Tests of the cross-built programs (if any) run through Wine (Debian: /usr/bin/wine runs
# wine64 when wine32 is absent).
set(CMAKE_CROSSCOMPILING_EMULATOR wine)
