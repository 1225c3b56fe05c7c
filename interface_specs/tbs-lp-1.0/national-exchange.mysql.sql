-- NATIONAL-EXCHANGE front database, MySQL 8 / MariaDB 10.6+ (utf8mb4, binary collation: row_guid order is code point order)
CREATE TABLE up_uc_gov_org (
  row_guid VARCHAR(50) NOT NULL,
  cd_operation VARCHAR(2) NOT NULL,
  cd_time DATETIME NOT NULL,
  cd_batch VARCHAR(32) NOT NULL,
  data_source VARCHAR(3),
  version INT,
  org_cc_code VARCHAR(18),
  region_code VARCHAR(12),
  PRIMARY KEY (row_guid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_up_uc_gov_org_batch ON up_uc_gov_org (cd_batch);
CREATE TABLE up_task_general_basic (
  row_guid VARCHAR(50) NOT NULL,
  cd_operation VARCHAR(2) NOT NULL,
  cd_time DATETIME NOT NULL,
  cd_batch VARCHAR(32) NOT NULL,
  data_source VARCHAR(3),
  version INT,
  task_code VARCHAR(36),
  task_handle_item VARCHAR(50),
  catalog_code VARCHAR(12),  -- [profile-defined]
  task_name VARCHAR(200),  -- [profile-defined]
  task_type VARCHAR(2),  -- [profile-defined]
  task_state VARCHAR(2),  -- [profile-defined]
  by_law TEXT,  -- [profile-defined]
  dept_code VARCHAR(18),
  dept_name VARCHAR(100),
  dept_type VARCHAR(2),
  anticipate_day INT,
  anticipate_type VARCHAR(2),
  promise_day INT,
  promise_type VARCHAR(2),
  project_type VARCHAR(2),
  is_fee VARCHAR(1),
  fee_basis TEXT,
  server_type VARCHAR(20),
  handle_type VARCHAR(20),
  limit_scene_num INT,
  entrust_name VARCHAR(100),  -- read, not mapped
  accept_condition TEXT,  -- read, not mapped
  handle_flow TEXT,  -- read, not mapped
  link_addr VARCHAR(500),  -- read, not mapped
  transact_addr VARCHAR(500),  -- read, not mapped
  transact_time VARCHAR(500),  -- read, not mapped
  PRIMARY KEY (row_guid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_up_task_general_basic_batch ON up_task_general_basic (cd_batch);
CREATE TABLE up_task_general_extend (
  row_guid VARCHAR(50) NOT NULL,
  cd_operation VARCHAR(2) NOT NULL,
  cd_time DATETIME NOT NULL,
  cd_batch VARCHAR(32) NOT NULL,
  data_source VARCHAR(3),
  version INT,
  task_code VARCHAR(36),  -- [profile-defined]
  online_handle_depth INT,
  is_online VARCHAR(1),  -- read, not mapped
  is_entry_center VARCHAR(1),  -- read, not mapped
  is_express VARCHAR(1),  -- read, not mapped
  is_pay_online VARCHAR(1),  -- read, not mapped
  is_schedule VARCHAR(1),  -- read, not mapped
  handle_area VARCHAR(2),  -- read, not mapped
  result_type VARCHAR(2),  -- read, not mapped
  result_name VARCHAR(200),  -- read, not mapped
  PRIMARY KEY (row_guid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_up_task_general_extend_batch ON up_task_general_extend (cd_batch);
CREATE TABLE up_task_general_material (
  row_guid VARCHAR(50) NOT NULL,
  cd_operation VARCHAR(2) NOT NULL,
  cd_time DATETIME NOT NULL,
  cd_batch VARCHAR(32) NOT NULL,
  data_source VARCHAR(3),
  version INT,
  task_code VARCHAR(36),  -- [profile-defined]
  material_name VARCHAR(200),
  is_need VARCHAR(1),
  material_format VARCHAR(2),
  page_num INT,
  page_format VARCHAR(2),
  order_num INT,
  material_type VARCHAR(2),  -- read, not mapped
  source_type VARCHAR(2),  -- read, not mapped
  source_explain VARCHAR(500),  -- read, not mapped
  PRIMARY KEY (row_guid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_up_task_general_material_batch ON up_task_general_material (cd_batch);
CREATE TABLE up_pro_accept (
  row_guid VARCHAR(50) NOT NULL,
  cd_operation VARCHAR(2) NOT NULL,
  cd_time DATETIME NOT NULL,
  cd_batch VARCHAR(32) NOT NULL,
  data_source VARCHAR(3),
  version INT,
  project_no VARCHAR(50),
  catalog_code VARCHAR(12),  -- read, not mapped
  task_code VARCHAR(36),
  task_handle_item VARCHAR(50),
  task_name VARCHAR(200),
  task_version INT,  -- read, not mapped
  project_name VARCHAR(200),  -- read, not mapped
  project_type VARCHAR(2),
  apply_type VARCHAR(2),
  apply_date DATETIME,
  accept_date DATETIME,
  accept_doc_no VARCHAR(50),  -- read, not mapped
  promise_date DATETIME,
  org_code VARCHAR(64),
  org_name VARCHAR(100),
  handle_user_name VARCHAR(50),
  applyer_type VARCHAR(2),
  applyer_name VARCHAR(100),
  applyer_page_type VARCHAR(70),
  applyer_page_code VARCHAR(50),
  legal VARCHAR(50),  -- read, not mapped
  contact_name VARCHAR(100),
  contact_type VARCHAR(70),
  contact_code VARCHAR(50),
  contact_mobile VARCHAR(11),  -- read, not mapped
  address VARCHAR(200),  -- read, not mapped
  zip_code VARCHAR(6),  -- read, not mapped
  PRIMARY KEY (row_guid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_up_pro_accept_batch ON up_pro_accept (cd_batch);
CREATE TABLE up_pro_process (
  row_guid VARCHAR(50) NOT NULL,
  cd_operation VARCHAR(2) NOT NULL,
  cd_time DATETIME NOT NULL,
  cd_batch VARCHAR(32) NOT NULL,
  data_source VARCHAR(3),
  version INT,
  project_no VARCHAR(50),
  process_name VARCHAR(100),
  event_name VARCHAR(2),
  handle_user_name VARCHAR(50),
  handle_explain VARCHAR(2000),
  event_start_time DATETIME,
  event_end_time DATETIME,  -- read, not mapped
  remark VARCHAR(500),  -- read, not mapped
  PRIMARY KEY (row_guid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_up_pro_process_batch ON up_pro_process (cd_batch);
CREATE TABLE up_pro_special_procedure (
  row_guid VARCHAR(50) NOT NULL,
  cd_operation VARCHAR(2) NOT NULL,
  cd_time DATETIME NOT NULL,
  cd_batch VARCHAR(32) NOT NULL,
  data_source VARCHAR(3),
  version INT,
  project_no VARCHAR(50),  -- [profile-defined]
  special_type VARCHAR(2),
  special_name VARCHAR(100),
  special_reason VARCHAR(1000),
  special_time DATETIME,
  end_time DATETIME,
  special_explain VARCHAR(1000),
  handle_user VARCHAR(50),
  result VARCHAR(200),  -- read, not mapped
  applyer_user_name VARCHAR(50),  -- read, not mapped
  PRIMARY KEY (row_guid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_up_pro_special_procedure_batch ON up_pro_special_procedure (cd_batch);
CREATE TABLE up_pro_result (
  row_guid VARCHAR(50) NOT NULL,
  cd_operation VARCHAR(2) NOT NULL,
  cd_time DATETIME NOT NULL,
  cd_batch VARCHAR(32) NOT NULL,
  data_source VARCHAR(3),
  version INT,
  project_no VARCHAR(50),  -- [profile-defined]
  result_date DATETIME,
  result_type VARCHAR(2),
  result_explain VARCHAR(1000),
  result_cetr_name VARCHAR(200),
  result_cetr_no VARCHAR(50),
  handle_user_name VARCHAR(50),
  is_delivery_results VARCHAR(1),  -- read, not mapped
  satisfaction VARCHAR(2),  -- read, not mapped
  PRIMARY KEY (row_guid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_up_pro_result_batch ON up_pro_result (cd_batch);
CREATE TABLE up_pro_evaluate (  -- [profile-defined] table; columns named after the 好差评 interface fields
  row_guid VARCHAR(50) NOT NULL,
  cd_operation VARCHAR(2) NOT NULL,
  cd_time DATETIME NOT NULL,
  cd_batch VARCHAR(32) NOT NULL,
  data_source VARCHAR(3),
  version INT,
  project_no VARCHAR(50),
  pf VARCHAR(2),
  satisfaction VARCHAR(2),
  eval_detail VARCHAR(200),
  writing_evaluation TEXT,
  assess_time DATETIME,
  assess_number INT,
  PRIMARY KEY (row_guid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_up_pro_evaluate_batch ON up_pro_evaluate (cd_batch);
CREATE TABLE tb_batch (  -- [profile-defined]: batch markers, written by the writer
  row_guid VARCHAR(50) NOT NULL,
  cd_operation VARCHAR(2) NOT NULL,
  cd_time DATETIME NOT NULL,
  cd_batch VARCHAR(32) NOT NULL,
  data_source VARCHAR(3),
  version INT,
  row_count INT NOT NULL,  -- rows of tb_batch_row with this cd_batch  -- [profile-defined]
  PRIMARY KEY (row_guid),
  UNIQUE (cd_batch)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_tb_batch_cursor ON tb_batch (cd_time, row_guid);
CREATE TABLE tb_batch_row (  -- [profile-defined]: batch manifests, written by the writer with the marker
  cd_batch VARCHAR(32) NOT NULL,
  table_name VARCHAR(64) NOT NULL,  -- the up table of the row, as named in this DDL
  row_guid VARCHAR(50) NOT NULL,
  PRIMARY KEY (cd_batch, table_name, row_guid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE tb_receipt (  -- [profile-defined]: receipts, written by the bus
  table_name VARCHAR(64) NOT NULL,
  row_guid VARCHAR(50) NOT NULL,
  row_cd_time VARCHAR(32) NOT NULL,
  cd_batch VARCHAR(32) NOT NULL,
  outcome VARCHAR(10) NOT NULL,
  rule_ids VARCHAR(1000) NOT NULL,
  message VARCHAR(2000) NOT NULL,
  findings TEXT NOT NULL,
  processed_at DATETIME NOT NULL,
  PRIMARY KEY (table_name, row_guid, row_cd_time, cd_batch)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE dn_task_directory (
  row_guid VARCHAR(50) NOT NULL,
  cd_operation VARCHAR(2) NOT NULL,
  cd_time DATETIME NOT NULL,
  cd_batch VARCHAR(32) NOT NULL,
  data_source VARCHAR(3),
  version INT,
  catalog_code VARCHAR(12),
  task_name VARCHAR(200),
  task_type VARCHAR(2),
  task_state VARCHAR(2),
  task_version INT,
  use_level VARCHAR(11),
  by_law TEXT,
  plan_effective_date DATETIME,
  plan_cancel_date DATETIME,
  local_catalog_code VARCHAR(50),
  PRIMARY KEY (row_guid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX ix_dn_task_directory_batch ON dn_task_directory (cd_batch);
CREATE INDEX ix_dn_task_directory_cursor ON dn_task_directory (cd_time, row_guid);
