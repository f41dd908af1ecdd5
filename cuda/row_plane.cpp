#include "cuda/row_plane.hpp"

#include <algorithm>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include <gapm/errors.hpp>

#include "cuda/pipe_schedule.hpp"
#include "host/common/expects.hpp"
#include "host/store/pinned_bounce.hpp"

namespace gapm::detail {

const std::byte* received_rows::use_on(device_stream stream) {
  runtime_->wait(stream, arrived_.get());
  return rows_.data();
}

void received_rows::copy_to_host(std::byte* out, device_stream stream) {
  if (rows_.bytes() == 0) return;
  const pinned_bounce host = pinned_bounce::from_device(*runtime_, out, rows_.bytes());
  runtime_->copy(host.data(), use_on(stream), rows_.bytes(), stream);
  runtime_->synchronize(stream);
  host.land();
}

row_plane::row_plane(device_runtime& runtime, int device, int rank, int world_size, std::string_view kind,
                     std::unique_ptr<pipe_links> links, std::chrono::milliseconds patience)
    : runtime_{runtime}, device_{device}, rank_{rank}, kind_{kind}, links_{std::move(links)} {
  for (int peer = 0; peer < world_size; ++peer) {
    for (auto* pipes : {&out_, &in_}) {
      pipes->push_back(peer == rank ? nullptr : std::make_unique<pipe>());
      if (peer != rank) pipes->back()->stream = std::make_shared<shared_stream>(runtime_, device_);
    }
  }
  connect_pipes(world_size, patience);
}

void row_plane::connect_pipes(int world_size, std::chrono::milliseconds patience) {
  // A node that dies meanwhile must not hold the others here: at the deadline a watchdog
  // aborts the links, which ends the calls and transfers that wait.
  std::mutex mutex;
  std::condition_variable finished;
  bool done = false, late = false;
  std::thread watchdog([&] {
    std::unique_lock lock{mutex};
    if (finished.wait_for(lock, patience, [&] { return done; })) return;
    late = true;
    lock.unlock();
    abort();
  });
  auto stop_watchdog = [&] {
    {
      std::lock_guard guard{mutex};
      done = true;
    }
    finished.notify_all();
    watchdog.join();
    if (late)
      throw comm_error(concat("gapm: node ", rank_, ": the nodes did not all connect the data plane's pipes within ",
                              patience.count(), " ms (option rendezvous_timeout_s)"));
  };
  try {
    device_scope scope{runtime_, device_};
    shared_stream staging{runtime_, device_};
    device_buffer<std::byte> byte(runtime_, 1, staging.get());
    runtime_.synchronize(staging.get());
    for (const auto& round : pairing_rounds(world_size))
      for (const bool lower_sends : {true, false}) {
        int peer = -1;
        for (const auto& [a, b] : round)
          if (rank_ == a || rank_ == b) peer = rank_ == a ? b : a;
        if (peer < 0) continue;
        const bool sends = (rank_ < peer) == lower_sends;
        pipe& p = pipe_to(sends ? out_ : in_, peer);
        if (sends) links_->enqueue_send(peer, byte.data(), 1, p.stream->get());
        else links_->enqueue_receive(peer, byte.data(), 1, p.stream->get());
        runtime_.synchronize(p.stream->get());
        throw_if_aborted();
      }
  } catch (...) {
    stop_watchdog();  // throws the deadline's error when it was the cause
    throw;
  }
  stop_watchdog();
}

row_plane::~row_plane() {
  close(std::chrono::seconds{5});
  device_scope scope{runtime_, device_};
  // Nothing may still run on the links when they go (after an abort it ends at once); the
  // streams themselves go once no received rows hold them.
  for (auto* pipes : {&out_, &in_})
    for (auto& p : *pipes) {
      if (!p) continue;
      try {
        runtime_.synchronize(p->stream->get());
      } catch (...) {  // an aborted transfer may leave its stream in error: it has ended all the same
      }
    }
  for (auto* pipes : {&out_, &in_}) pipes->clear();
  links_.reset();
}

void row_plane::close(std::chrono::milliseconds patience) noexcept {
  if (closed_ || aborted_.load()) return;
  closed_ = true;
  try {
    device_scope scope{runtime_, device_};
    std::vector<owned_event> drained;
    for (auto* pipes : {&out_, &in_})
      for (auto& p : *pipes)
        if (p) runtime_.record(drained.emplace_back(runtime_, device_).get(), p->stream->get());
    const auto deadline = std::chrono::steady_clock::now() + patience;
    auto all_done = [&] {
      return std::all_of(drained.begin(), drained.end(), [&](const owned_event& e) { return runtime_.done(e.get()); });
    };
    while (!all_done() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::microseconds{200});
    if (all_done()) return;
    std::cerr << "gapm: node " << rank_ << ": data plane: transfers still in flight after "
              << patience.count() << " ms at the end (a peer left without them): ended\n";
  } catch (...) {  // a runtime that fails now cannot be waited for: end the transfers
  }
  abort();
}

row_plane::pipe& row_plane::pipe_to(std::vector<std::unique_ptr<pipe>>& pipes, int peer) {
  GAPM_EXPECTS(peer >= 0 && static_cast<std::size_t>(peer) < pipes.size() && pipes[static_cast<std::size_t>(peer)],
               concat("row plane: no pipe between node ", rank_, " and node ", peer));
  return *pipes[static_cast<std::size_t>(peer)];
}

std::uint64_t row_plane::send(int peer, device_buffer<std::byte> rows, std::size_t bytes, device_event ready,
                              const std::function<void(std::uint64_t)>& announce) {
  GAPM_EXPECTS(bytes <= rows.bytes(), "row plane: sending ", bytes, " bytes of a buffer of ", rows.bytes());
  pipe& p = pipe_to(out_, peer);
  std::lock_guard guard{p.mutex};
  throw_if_aborted();
  device_scope scope{runtime_, device_};
  if (ready != nullptr) runtime_.wait(p.stream->get(), ready);
  if (bytes > 0) links_->enqueue_send(peer, rows.data(), bytes, p.stream->get());
  rows.free_in_order_of(p.stream->get());  // freed once the send is done, when `rows` goes below
  const std::uint64_t transfer = p.next++;
  announce(transfer);
  return transfer;
}

received_rows row_plane::receive(int peer, std::uint64_t transfer, std::size_t bytes) {
  pipe& p = pipe_to(in_, peer);
  std::lock_guard guard{p.mutex};
  throw_if_aborted();
  if (transfer != p.next)
    throw comm_error(concat("gapm: row plane: node ", peer, " announced transfer ", transfer, " where ", p.next,
                            " was next: the pipes are out of step"));
  device_scope scope{runtime_, device_};
  device_buffer<std::byte> rows(runtime_, bytes, p.stream->get());
  if (bytes > 0) links_->enqueue_receive(peer, rows.data(), bytes, p.stream->get());
  owned_event arrived{runtime_, device_};
  runtime_.record(arrived.get(), p.stream->get());
  ++p.next;
  return received_rows{runtime_, device_, p.stream, std::move(rows), std::move(arrived)};
}

void row_plane::abort() noexcept {
  if (aborted_.exchange(true)) return;
  try {
    device_scope scope{runtime_, device_};
    links_->abort();
  } catch (...) {  // no device to switch to: the links end their transfers where they are
    links_->abort();
  }
}

void row_plane::throw_if_aborted() const {
  if (aborted_.load()) throw comm_error(concat("gapm: node ", rank_, ": the data plane was aborted (the cluster failed)"));
}

}  // namespace gapm::detail
