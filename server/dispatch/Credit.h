#pragma once

#include <algorithm>

namespace te::dispatch {

// The places a worker has free: `slots` it runs at once, `reserved` it may hold beyond them
// (a quick worker's reserve, see Dispatcher.cpp), less `held`, what it has or will have (sent,
// reserved, asked for by a claim that is out, offered or taken). An offer is of all of them.
inline int freePlaces(int slots, int reserved, int held) {
    return std::max(0, slots + reserved - held);
}

// How many of those places a claim may ask for.
//
// A slot about to idle claims at once. A worker whose every slot has work ahead refills
// its reserve only once half of it is free: a claim after every result or two took one
// or two tasks, and the claims were a fifth of PostgreSQL's statement time per job, most
// of it per statement (10,000 no-op jobs: 4,000 claims -> 2,100, about +4% end to end).
// A task that comes meanwhile waits behind the quick ones ahead, or goes to an idle worker.
inline int claimCredit(int slots, int reserved, int held) {
    const int credit = freePlaces(slots, reserved, held);
    if (held < slots) return credit;
    return credit >= std::max(1, reserved / 2) ? credit : 0;
}

}  // namespace te::dispatch
