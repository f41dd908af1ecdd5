// gapm: a GPU-aware adaptive parameter manager. Include this header for the whole API.
//
//   gapm::Options opts = gapm::Options::parse(argc, argv);
//   gapm::Node<float> node(opts);
//   gapm::Worker<float> worker(node, 0);
//   worker.intent(keys, n, worker.clock() + 10);   // "I will need these keys soon"
//   worker.wait(worker.pull(keys, n, rows));
//   worker.push(keys, n, deltas);                   // additive
//   worker.advance_clock();
#pragma once

#include <gapm/errors.hpp>
#include <gapm/node.hpp>
#include <gapm/optimizer.hpp>
#include <gapm/options.hpp>
#include <gapm/stats.hpp>
#include <gapm/types.hpp>
#include <gapm/worker.hpp>
