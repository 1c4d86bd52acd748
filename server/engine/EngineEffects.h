#pragma once

#include <cstdint>
#include <vector>

#include "server/engine/EngineImpl.h"

namespace te {

// What one engine transaction decided that the rest of the server must act on after commit.
struct EngineImpl::Effects {
    bool tasksReady = false;
    bool callbacksReady = false;
    bool slotFreed = false;  // a started job ended or stepped aside: run admission again
    bool jobQueued = false;  // a job joined the queue: run admission
    std::vector<std::int64_t> cancel;
    // Assigned tasks of a paused job: those claimed for a worker but not sent yet go back.
    std::vector<std::int64_t> recall;
    // Jobs that became completed or broken: requests waiting for them answer (GET ?wait=).
    std::vector<std::int64_t> ended;
    // Ids of the queued tasks this transaction made (plan()): announced as tasksReady after
    // the commit, unless an offer took them or the transaction's own claim saw them. The rows
    // are the transaction's to read (findTask), as later writes of the batch left them.
    std::vector<std::int64_t> planned;
    // Tasks inserted assigned to offered slots (takeOffers): sent after the commit.
    std::vector<OfferedTask> offered;

    // What both decided (admission has run for each, so slotFreed and jobQueued are spent).
    bool anyReady() const { return tasksReady || !planned.empty(); }

    void merge(const Effects& other) {
        tasksReady |= other.tasksReady;
        callbacksReady |= other.callbacksReady;
        cancel.insert(cancel.end(), other.cancel.begin(), other.cancel.end());
        recall.insert(recall.end(), other.recall.begin(), other.recall.end());
        ended.insert(ended.end(), other.ended.begin(), other.ended.end());
        planned.insert(planned.end(), other.planned.begin(), other.planned.end());
        offered.insert(offered.end(), other.offered.begin(), other.offered.end());
    }
};

}  // namespace te
