// main() of the scenario program: runs the scenario named by argv[1] (see scenario.hpp).
#include "scenario.hpp"

int main(int argc, char** argv) {
  const std::string name = argc > 1 ? argv[1] : "";
  const auto& scenarios = gapm::scenarios::registry();
  auto it = scenarios.find(name);
  if (it == scenarios.end()) {
    std::cerr << "usage: multi_node_scenarios SCENARIO; one of:";
    for (const auto& [known, fn] : scenarios) std::cerr << " " << known;
    std::cerr << "\n";
    return 2;
  }
  try {
    const int code = it->second();
    if (code == 0) std::cout << "PASS " << name << "\n";
    return code;
  } catch (const gapm::comm_error& e) {
    std::cout << "COMM_ERROR " << e.what() << "\n";
    return 3;
  } catch (const gapm::logic_error& e) {
    std::cout << "LOGIC_ERROR " << e.what() << "\n";
    return 4;
  }
}
