# Debian's libsoci-dev ships no CMake package and no pkg-config file (PLATFORM-NOTES.md).
# Its soci-config.h defines SOCI_HAVE_BOOST, so the Boost headers must be present too.
find_path(SOCI_INCLUDE_DIR soci/soci.h REQUIRED)
find_library(SOCI_CORE_LIBRARY soci_core REQUIRED)
find_library(SOCI_SQLITE3_LIBRARY soci_sqlite3 REQUIRED)
find_library(SOCI_POSTGRESQL_LIBRARY soci_postgresql REQUIRED)
# The store resets kept SQLite statements itself (server/store/SqlQuery.cpp), so it calls
# libsqlite3 directly as well.
find_library(SQLITE3_LIBRARY sqlite3 REQUIRED)
# ... and libpq, for the pipeline mode soci has no word for (WriteBatch, same file).
find_library(PQ_LIBRARY pq REQUIRED)
find_package(Boost REQUIRED)
add_library(SOCI::soci INTERFACE IMPORTED)
target_include_directories(SOCI::soci INTERFACE ${SOCI_INCLUDE_DIR} ${Boost_INCLUDE_DIRS})
target_link_libraries(SOCI::soci INTERFACE
  ${SOCI_CORE_LIBRARY} ${SOCI_SQLITE3_LIBRARY} ${SOCI_POSTGRESQL_LIBRARY} ${SQLITE3_LIBRARY} ${PQ_LIBRARY}
  ${CMAKE_DL_LIBS})
