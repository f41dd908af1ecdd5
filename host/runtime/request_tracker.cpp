#include "host/runtime/request_tracker.hpp"

namespace gapm::detail {

Ticket request_tracker::open(std::uint64_t keys) {
  if (keys == 0) return {};  // nothing to wait for: already complete
  const std::uint64_t id = ids_.next();
  std::lock_guard guard{mutex_};
  remaining_.emplace(id, keys);
  return Ticket{id};
}

request_tracker::credit request_tracker::answer(std::uint64_t id, std::uint64_t keys) {
  std::lock_guard guard{mutex_};
  auto it = remaining_.find(id);
  if (it == remaining_.end()) return credit::unknown;
  if (keys > it->second) return credit::excessive;
  it->second -= keys;
  if (it->second == 0) {
    remaining_.erase(it);
    answered_.notify_all();
  }
  return credit::counted;
}

void request_tracker::abandon(std::uint64_t id) {
  std::lock_guard guard{mutex_};
  if (remaining_.erase(id) > 0) answered_.notify_all();
}

void request_tracker::fail(std::exception_ptr failure) {
  std::lock_guard guard{mutex_};
  if (!failure_) failure_ = std::move(failure);
  answered_.notify_all();
}

void request_tracker::throw_if_failed() const {
  if (failure_) std::rethrow_exception(failure_);
}

bool request_tracker::is_finished(Ticket ticket) {
  std::lock_guard guard{mutex_};
  if (!remaining_.contains(ticket.id)) return true;
  throw_if_failed();
  return false;
}

void request_tracker::wait(Ticket ticket) {
  std::unique_lock lock{mutex_};
  answered_.wait(lock, [&] { return failure_ || !remaining_.contains(ticket.id); });
  if (remaining_.contains(ticket.id)) throw_if_failed();
}

void request_tracker::wait_all() {
  std::unique_lock lock{mutex_};
  answered_.wait(lock, [&] { return failure_ || remaining_.empty(); });
  if (!remaining_.empty()) throw_if_failed();
}

std::size_t request_tracker::outstanding() {
  std::lock_guard guard{mutex_};
  return remaining_.size();
}

}  // namespace gapm::detail
