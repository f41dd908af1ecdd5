// Stats: JSON and a human summary.
#include <gapm/stats.hpp>

#include <cstdio>
#include <string>

namespace gapm {
namespace {

double percent(std::uint64_t part, std::uint64_t whole) {
  return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

}  // namespace

std::string Stats::to_json() const {
  std::string json = "{";
  auto field = [&](const char* name, auto value) {
    if (json.size() > 1) json += ",";
    json += "\"" + std::string(name) + "\":" + std::to_string(value);
  };
  field("pulls_local", pulls_local);
  field("pulls_remote", pulls_remote);
  field("pushes_local", pushes_local);
  field("pushes_remote", pushes_remote);
  field("intent_keys", intent_keys);
  field("intent_entries", intent_entries);
  field("intent_bytes", intent_bytes);
  field("replicas_created", replicas_created);
  field("replicas_dropped", replicas_dropped);
  field("replica_rounds", replica_rounds);
  field("relocations", relocations);
  field("deltas_sent", deltas_sent);
  field("sync_rounds", sync_rounds);
  field("sync_rounds_per_sec", sync_rounds_per_sec);
  field("messages_sent", messages_sent);
  field("messages_received", messages_received);
  field("bytes_sent", bytes_sent);
  field("bytes_received", bytes_received);
  field("plane_bytes_sent", plane_bytes_sent);
  field("plane_bytes_received", plane_bytes_received);
  field("plane_delta_bytes_sent", plane_delta_bytes_sent);
  field("malformed_messages", malformed_messages);
  field("rejected_frames", rejected_frames);
  field("forward_hops", forward_hops);
  field("remote_answers", remote_answers);
  field("slots_used", slots_used);
  field("slots_capacity", slots_capacity);
  field("uptime_s", uptime_s);
  field("cpu_process_s", cpu_process_s);
  field("cpu_sync_s", cpu_sync_s);
  field("cpu_receive_s", cpu_receive_s);
  field("cpu_liveness_s", cpu_liveness_s);
  field("cpu_transport_s", cpu_transport_s);
  return json + "}";
}

std::string Stats::summary() const {
  char text[1536];
  const double mean_hops = remote_answers == 0
                               ? 0.0
                               : static_cast<double>(forward_hops) / static_cast<double>(remote_answers);
  std::snprintf(text, sizeof text,
                "pulls  %llu local (%.1f%%), %llu remote\n"
                "pushes %llu local (%.1f%%), %llu remote\n"
                "intent keys %llu (%llu registered, %llu KiB); replicas created %llu, dropped %llu; relocations %llu; "
                "deltas sent %llu\n"
                "sync rounds %llu (%.1f/s per channel); mean forwarding hops %.2f\n"
                "sent %llu msgs / %llu B; received %llu msgs / %llu B; %llu malformed, %llu refused\n"
                "data plane %llu B sent (%llu B replica deltas), %llu B received\n"
                "slots %llu of %llu used; uptime %.1f s\n"
                "cpu %.2f s: sync %.2f, receive %.2f, transport %.2f, liveness %.2f\n",
                static_cast<unsigned long long>(pulls_local), percent(pulls_local, pulls_local + pulls_remote),
                static_cast<unsigned long long>(pulls_remote),
                static_cast<unsigned long long>(pushes_local),
                percent(pushes_local, pushes_local + pushes_remote),
                static_cast<unsigned long long>(pushes_remote),
                static_cast<unsigned long long>(intent_keys), static_cast<unsigned long long>(intent_entries),
                static_cast<unsigned long long>(intent_bytes / 1024),
                static_cast<unsigned long long>(replicas_created),
                static_cast<unsigned long long>(replicas_dropped),
                static_cast<unsigned long long>(relocations), static_cast<unsigned long long>(deltas_sent),
                static_cast<unsigned long long>(sync_rounds), sync_rounds_per_sec, mean_hops,
                static_cast<unsigned long long>(messages_sent), static_cast<unsigned long long>(bytes_sent),
                static_cast<unsigned long long>(messages_received),
                static_cast<unsigned long long>(bytes_received), static_cast<unsigned long long>(malformed_messages),
                static_cast<unsigned long long>(rejected_frames), static_cast<unsigned long long>(plane_bytes_sent),
                static_cast<unsigned long long>(plane_delta_bytes_sent),
                static_cast<unsigned long long>(plane_bytes_received), static_cast<unsigned long long>(slots_used), static_cast<unsigned long long>(slots_capacity),
                uptime_s, cpu_process_s, cpu_sync_s, cpu_receive_s, cpu_transport_s, cpu_liveness_s);
  return text;
}

}  // namespace gapm
