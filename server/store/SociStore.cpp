// Placeholder: the SOCI store is being written (issue 2).
#include "server/store/Store.h"
#include "shared/Errors.h"
namespace te {
std::unique_ptr<Store> Store::open(const std::string&) { throw StoreError("not implemented"); }
const std::vector<std::string>& Store::sortableJobColumns() {
    static const std::vector<std::string> cols = {"id", "client", "workflow", "priority", "created_at",
                                                  "updated_at", "run_at", "queue_state", "failed"};
    return cols;
}
}  // namespace te
