-- A candidate approved while another rollout ran is judged again, against the
-- champion that rollout left behind, before its own rollout: one evaluation per
-- champion it was compared with, each kept for the audit trail.
ALTER TABLE evaluations DROP CONSTRAINT evaluations_model_version_id_snapshot_id_key;
CREATE UNIQUE INDEX evaluations_per_champion ON evaluations (model_version_id, snapshot_id, (COALESCE(champion_version_id, 0)));
