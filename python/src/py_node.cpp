// py_node: gapm.Node's behaviour: options, rendezvous without the GIL, worker ownership, samplers, stats.
#include "py_node.hpp"

#include <atomic>
#include <utility>

#include <gapm/errors.hpp>

#include "options_args.hpp"

namespace gapm::python {
namespace py = pybind11;
namespace {

value_kind kind_from(py::handle dtype) {
  std::string name = py::str(dtype).cast<std::string>();  // torch.float32 prints as "torch.float32"
  if (name.starts_with("torch.")) name.erase(0, 6);
  if (name == "float32" || name == "float") return value_kind::float32;
  if (name == "float64" || name == "double") return value_kind::float64;
  if (name == "int64" || name == "long") return value_kind::int64;
  throw logic_error("gapm: Node: dtype must be torch.float32, torch.float64 or torch.int64, not " + name);
}

// A Python callable as Node::set_sampler's distribution: called from gapm's side of a worker
// call (which runs without the GIL), so it takes the GIL for each draw; and released with
// the GIL, whichever thread drops the last copy.
class python_sampler {
 public:
  explicit python_sampler(py::function fn)
      : fn_{new py::function(std::move(fn)), [](py::function* f) {
              py::gil_scoped_acquire gil;
              delete f;
            }} {}
  key_type operator()() const {
    py::gil_scoped_acquire gil;
    return (*fn_)().cast<std::uint64_t>();
  }

 private:
  std::shared_ptr<py::function> fn_;
};

// Uniform keys in [begin, begin + span): draw i is SplitMix64 of (seed, i), i from a shared
// atomic counter, so concurrent workers never share a state. `% span` has a bias of at most
// span / 2^64: nothing a sampler of negatives could notice.
class uniform_sampler {
 public:
  uniform_sampler(std::uint64_t begin, std::uint64_t span, std::uint64_t seed)
      : begin_{begin}, span_{span}, seed_{seed}, draws_{std::make_shared<std::atomic<std::uint64_t>>(0)} {}
  key_type operator()() const {
    std::uint64_t z = seed_ + (draws_->fetch_add(1, std::memory_order_relaxed) + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return begin_ + (z ^ (z >> 31)) % span_;
  }

 private:
  std::uint64_t begin_, span_, seed_;
  std::shared_ptr<std::atomic<std::uint64_t>> draws_;
};

}  // namespace

py_node::py_node(py::handle tables, py::handle dtype, bool read_env, py::handle argv, const py::kwargs& options) {
  const value_kind kind = kind_from(dtype);
  const Options parsed = options_from_python(tables, options, read_env, argv);
  {
    py::gil_scoped_release release;  // the rendezvous waits for the other nodes
    api_ = make_node_api(parsed, kind);
  }
  facts_ = std::make_shared<const node_facts>(
      node_facts{.kind = kind, .store = api_->store_name(), .layout = row_layout(api_->options().tables)});
}

py_node::~py_node() { tear_down(); }

node_api& py_node::api(const char* operation) const {
  if (!api_) throw logic_error("gapm: " + std::string(operation) + ": the node was closed");
  return *api_;
}

int py_node::rank() const { return api("rank").rank(); }
int py_node::world_size() const { return api("world_size").world_size(); }
std::uint64_t py_node::num_keys() const { return facts_->layout.num_keys(); }
std::uint32_t py_node::row_length(std::int64_t key) const { return facts_->layout.row_length(key, "row_length"); }
std::string py_node::store_name() const { return facts_->store; }
py::object py_node::dtype() const { return py::module_::import("torch").attr(value_kind_name(facts_->kind)); }

py::list py_node::tables() const {
  py::list result;
  for (const auto& t : api("tables").options().tables) result.append(py::make_tuple(t.num_keys, t.row_length));
  return result;
}

py::dict py_node::options() const {
  py::dict result;
  const Options& o = api("options").options();
  for (const std::string& name : Options::names()) result[py::str(name)] = o.get(name);
  return result;
}

std::shared_ptr<py_worker> py_node::worker(int id) {
  if (auto it = workers_.find(id); it != workers_.end()) return it->second;
  auto worker = std::make_shared<py_worker>(api("worker").make_worker(id), facts_);
  workers_.emplace(id, worker);
  return worker;
}

void py_node::barrier() {
  node_api& node = api("barrier");
  py::gil_scoped_release release;
  node.barrier();
}

void py_node::shutdown() {
  if (!api_) return;
  py::gil_scoped_release release;
  api_->shutdown();
}

void py_node::close() {
  for (const auto& [id, worker] : workers_)
    if (worker->busy())
      throw logic_error("gapm: close: worker " + std::to_string(id) +
                        " is in a call in another thread; end that call first (shutdown() ends barriers)");
  tear_down();
}

void py_node::tear_down() noexcept {
  for (auto& [id, worker] : workers_) worker->detach();  // Worker<T> before Node<T>
  workers_.clear();
  if (!api_) return;
  std::unique_ptr<node_api> doomed = std::move(api_);
  if (Py_IsInitialized() != 0 && PyGILState_Check() != 0) {
    py::gil_scoped_release release;  // stopping the node's threads may take a moment
    doomed.reset();
  }
}

void py_node::set_sampler(py::function sample_key) { api("set_sampler").set_sampler(python_sampler{std::move(sample_key)}); }

void py_node::set_uniform_sampler(std::uint64_t begin, std::uint64_t end, std::uint64_t seed) {
  node_api& node = api("set_uniform_sampler");
  if (begin >= end || end > num_keys())
    throw logic_error("gapm: set_uniform_sampler: [" + std::to_string(begin) + ", " + std::to_string(end) +
                      ") is not a non-empty key range within [0, " + std::to_string(num_keys()) + ")");
  node.set_sampler(uniform_sampler{begin, end - begin, seed});
}

py::dict py_node::stats() const {
  const Stats s = api("stats").stats();
  return py::module_::import("json").attr("loads")(s.to_json());
}

std::string py_node::stats_summary() const { return api("stats_summary").stats().summary(); }

void py_node::save(const std::filesystem::path& path) {
  node_api& node = api("save");
  py::gil_scoped_release release;
  node.save(path.string());
}

void py_node::load(const std::filesystem::path& path) {
  node_api& node = api("load");
  py::gil_scoped_release release;
  node.load(path.string());
}

}  // namespace gapm::python
