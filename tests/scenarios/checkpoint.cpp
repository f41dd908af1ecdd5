// Scenarios of snapshots (Node::save / load). A job is a fixed set of training streams, spread
// over however many nodes run it, so its result does not depend on the node count: a run cut
// by a save, restored on another number of nodes and continued must end exactly where an
// uninterrupted run ends (int64 values, replayed here to know every key's final value).
#include "scenario.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <random>

namespace {

using namespace gapm::scenarios;
using gapm::key_type;
using value = std::int64_t;

constexpr int streams = 12;  // divides among 1, 2, 3, 4 and 6 nodes
constexpr std::uint64_t num_keys = 600;
constexpr std::uint32_t row = 3;
constexpr std::size_t batch = 8;
constexpr long ahead = 20;

std::vector<key_type> keys_of(int stream, long iteration) {
  std::mt19937_64 rng(static_cast<std::uint64_t>(stream) * 1000003u + static_cast<std::uint64_t>(iteration));
  std::vector<key_type> keys(batch);
  for (auto& k : keys) k = rng() % num_keys;
  return keys;
}

value delta_of(int stream, long iteration, key_type key, std::uint32_t j) {
  return static_cast<value>((key * 7 + j + 1) * static_cast<key_type>(stream + 1)) + iteration % 13 - 6;
}

gapm::Options checkpoint_options() {
  gapm::Options o;
  o.tables = {{num_keys / 2, row}, {num_keys / 2, row}};
  return gapm::Options::from_env(o);
}

// Runs iterations [begin, end) of this node's streams, with intent ahead (keys move).
void train(gapm::Node<value>& node, gapm::Worker<value>& w, long begin, long end) {
  std::vector<int> mine;
  for (int s = node.rank(); s < streams; s += node.world_size()) mine.push_back(s);
  for (long i = begin; i < end; ++i) {
    for (int s : mine) {
      if (i + ahead < end) w.intent(keys_of(s, i + ahead), w.clock() + ahead, w.clock() + ahead + 1);
      const auto keys = keys_of(s, i);
      std::vector<value> deltas;
      for (key_type k : keys)
        for (std::uint32_t j = 0; j < row; ++j) deltas.push_back(delta_of(s, i, k, j));
      w.push(keys.data(), keys.size(), deltas.data());
    }
    w.advance_clock();
  }
  quiesce(w);
}

// Checks every key against a replay of iterations [0, end) of every stream.
void expect_trained_until(gapm::Worker<value>& w, long end, const std::string& when) {
  std::vector<value> expected(num_keys * row, 0);
  for (int s = 0; s < streams; ++s)
    for (long i = 0; i < end; ++i)
      for (key_type k : keys_of(s, i))
        for (std::uint32_t j = 0; j < row; ++j) expected[k * row + j] += delta_of(s, i, k, j);
  std::vector<key_type> all(num_keys);
  std::iota(all.begin(), all.end(), key_type{0});
  std::vector<value> got(num_keys * row);
  w.wait(w.pull(all.data(), all.size(), got.data()));
  for (std::size_t i = 0; i < got.size(); ++i)
    expect_equal(got[i], expected[i], when + ": key " + std::to_string(i / row) + "[" + std::to_string(i % row) + "]");
}

const std::string snapshot_path() {
  const char* path = std::getenv("SCENARIO_SNAPSHOT");
  return path == nullptr ? "/tmp/gapm_checkpoint" : path;
}

// SCENARIO_PHASE: whole = train [0, 2 * half) uninterrupted; first = train [0, half), save,
// train on, load the save back (keys have moved since) and check; second = load (on any node
// count), train [half, 2 * half) and check.
GAPM_SCENARIO(checkpoint) {
  gapm::Node<value> node(checkpoint_options());
  gapm::Worker<value> w(node, 0);
  const long half = env_int("SCENARIO_ITERATIONS", 300);
  const std::string phase = std::getenv("SCENARIO_PHASE") == nullptr ? "whole" : std::getenv("SCENARIO_PHASE");
  if (phase == "whole") {
    train(node, w, 0, 2 * half);
    expect_trained_until(w, 2 * half, "uninterrupted");
  } else if (phase == "first") {
    train(node, w, 0, half);
    node.save(snapshot_path());
    train(node, w, half, half + 100);  // the live cluster moves on ...
    node.load(snapshot_path());        // ... and goes back: every key, wherever it is now
    expect_trained_until(w, half, "loaded back on the live cluster");
    std::cout << "relocations " << node.stats().relocations << "\n";
  } else {
    node.load(snapshot_path());
    expect_trained_until(w, half, "restored on " + std::to_string(node.world_size()) + " nodes");
    w.barrier();  // every node has checked before any trains on
    train(node, w, half, 2 * half);
    expect_trained_until(w, 2 * half, "restored and continued");
  }
  w.finalize();
  node.shutdown();
  return exit_code();
}

// A load that some node cannot verify changes nothing anywhere: SCENARIO_SNAPSHOT names a
// snapshot with a damaged part.
GAPM_SCENARIO(checkpoint_damaged) {
  gapm::Node<value> node(checkpoint_options());
  gapm::Worker<value> w(node, 0);
  train(node, w, 0, 50);
  try {
    node.load(snapshot_path());
    expect_true(false, "a damaged snapshot was loaded");
  } catch (const gapm::error& e) {
    std::cout << "refused: " << e.what() << "\n";
    expect_true(std::string(e.what()).find("nothing was changed") != std::string::npos, "the refusal says so");
  }
  expect_trained_until(w, 50, "after the refused load");
  w.finalize();
  node.shutdown();
  return exit_code();
}

// Saves again and again (every key = the round number) until it is killed.
GAPM_SCENARIO(save_loop) {
  gapm::Options o;
  o.tables = {{200000, 8}};
  o.print_stats = false;
  gapm::Node<value> node(gapm::Options::from_env(o));
  gapm::Worker<value> w(node, 0);
  std::vector<key_type> all(node.num_keys());
  std::iota(all.begin(), all.end(), key_type{0});
  const std::vector<value> ones(all.size() * 8, 1);
  for (int round = 1;; ++round) {
    w.wait(w.push(all.data(), all.size(), ones.data()));
    node.save(snapshot_path());
    std::cout << "saved " << round << std::endl;
  }
}

// Loads what save_loop left: one complete snapshot, every key holding the same round number.
GAPM_SCENARIO(save_check) {
  gapm::Options o;
  o.tables = {{200000, 8}};
  o.print_stats = false;
  gapm::Node<value> node(gapm::Options::from_env(o));
  gapm::Worker<value> w(node, 0);
  node.load(snapshot_path());
  std::vector<key_type> all(node.num_keys());
  std::iota(all.begin(), all.end(), key_type{0});
  std::vector<value> got(all.size() * 8);
  w.wait(w.pull(all.data(), all.size(), got.data()));
  const value round = got.front();
  expect_true(round >= 1, "a saved round");
  expect_true(std::all_of(got.begin(), got.end(), [&](value v) { return v == round; }), "one consistent snapshot");
  std::cout << "loaded round " << round << "\n";
  return exit_code();
}

// Fault injection (tests/test_fault_injection.cpp): trains CHAOS_EPOCHS epochs of
// CHAOS_EPOCH_ITERATIONS iterations, saving a snapshot into SCENARIO_SNAPSHOT/epoch-E after
// each, and starts from the newest snapshot that loads. The test kills or pauses a process at
// a random point; a run started again after that must end exactly as an uninterrupted one.
GAPM_SCENARIO(chaos) {
  gapm::Node<value> node(checkpoint_options());
  std::cout << "JOINED" << std::endl;
  gapm::Worker<value> w(node, 0);
  const long per_epoch = env_int("CHAOS_EPOCH_ITERATIONS", 40);
  const int epochs = env_int("CHAOS_EPOCHS", 4);
  const auto epoch_path = [](int e) { return snapshot_path() + "/epoch-" + std::to_string(e); };
  int done = 0;
  // Nothing writes snapshots now, so every node sees the same ones and tries them in the same
  // order; one a killed save left incomplete is refused everywhere and changes nothing.
  for (int e = epochs; e >= 1 && done == 0; --e) {
    if (!std::filesystem::exists(epoch_path(e))) continue;
    try {
      node.load(epoch_path(e));
      done = e;
      std::cout << "RESTORED epoch " << e << std::endl;
    } catch (const gapm::comm_error&) {
      throw;
    } catch (const gapm::error& refused) {
      std::cout << "skipped epoch " << e << ": " << refused.what() << std::endl;
    }
  }
  if (done > 0) expect_trained_until(w, done * per_epoch, "restored epoch " + std::to_string(done));
  w.barrier();  // every node has checked before any trains on
  for (int e = done + 1; e <= epochs; ++e) {
    train(node, w, (e - 1) * per_epoch, e * per_epoch);
    node.save(epoch_path(e));
    std::cout << "SAVED epoch " << e << std::endl;
    if (node.rank() == 0 && e > 2) std::filesystem::remove_all(epoch_path(e - 2));  // e and e - 1 are complete
  }
  expect_trained_until(w, epochs * per_epoch, "at the end");
  w.finalize();
  node.shutdown();
  return exit_code();
}

}  // namespace
