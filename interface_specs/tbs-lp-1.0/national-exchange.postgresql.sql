-- NATIONAL-EXCHANGE front database, PostgreSQL 13+ (database encoding UTF8)
CREATE TABLE up_uc_gov_org (
  row_guid VARCHAR(50) COLLATE "C" NOT NULL,
  cd_operation VARCHAR(2) NOT NULL,
  cd_time TIMESTAMP(0) WITHOUT TIME ZONE NOT NULL,
  cd_batch VARCHAR(32) COLLATE "C" NOT NULL,
  data_source VARCHAR(3),
  version INTEGER,
  org_cc_code VARCHAR(18),
  region_code VARCHAR(12),
  PRIMARY KEY (row_guid)
);
CREATE INDEX ix_up_uc_gov_org_batch ON up_uc_gov_org (cd_batch);
CREATE TABLE up_task_general_basic (
  row_guid VARCHAR(50) COLLATE "C" NOT NULL,
  cd_operation VARCHAR(2) NOT NULL,
  cd_time TIMESTAMP(0) WITHOUT TIME ZONE NOT NULL,
  cd_batch VARCHAR(32) COLLATE "C" NOT NULL,
  data_source VARCHAR(3),
  version INTEGER,
  task_code VARCHAR(36),
  task_handle_item VARCHAR(50),
  catalog_code VARCHAR(12),
  task_name VARCHAR(200),
  task_type VARCHAR(2),
  task_state VARCHAR(2),
  by_law TEXT,
  dept_code VARCHAR(18),
  dept_name VARCHAR(100),
  dept_type VARCHAR(2),
  anticipate_day INTEGER,
  anticipate_type VARCHAR(2),
  promise_day INTEGER,
  promise_type VARCHAR(2),
  project_type VARCHAR(2),
  is_fee VARCHAR(1),
  fee_basis TEXT,
  server_type VARCHAR(20),
  handle_type VARCHAR(20),
  limit_scene_num INTEGER,
  entrust_name VARCHAR(100),
  accept_condition TEXT,
  handle_flow TEXT,
  link_addr VARCHAR(500),
  transact_addr VARCHAR(500),
  transact_time VARCHAR(500),
  PRIMARY KEY (row_guid)
);
CREATE INDEX ix_up_task_general_basic_batch ON up_task_general_basic (cd_batch);
CREATE TABLE up_task_general_extend (
  row_guid VARCHAR(50) COLLATE "C" NOT NULL,
  cd_operation VARCHAR(2) NOT NULL,
  cd_time TIMESTAMP(0) WITHOUT TIME ZONE NOT NULL,
  cd_batch VARCHAR(32) COLLATE "C" NOT NULL,
  data_source VARCHAR(3),
  version INTEGER,
  task_code VARCHAR(36),
  online_handle_depth INTEGER,
  is_online VARCHAR(1),
  is_entry_center VARCHAR(1),
  is_express VARCHAR(1),
  is_pay_online VARCHAR(1),
  is_schedule VARCHAR(1),
  handle_area VARCHAR(2),
  result_type VARCHAR(2),
  result_name VARCHAR(200),
  PRIMARY KEY (row_guid)
);
CREATE INDEX ix_up_task_general_extend_batch ON up_task_general_extend (cd_batch);
CREATE TABLE up_task_general_material (
  row_guid VARCHAR(50) COLLATE "C" NOT NULL,
  cd_operation VARCHAR(2) NOT NULL,
  cd_time TIMESTAMP(0) WITHOUT TIME ZONE NOT NULL,
  cd_batch VARCHAR(32) COLLATE "C" NOT NULL,
  data_source VARCHAR(3),
  version INTEGER,
  task_code VARCHAR(36),
  material_name VARCHAR(200),
  is_need VARCHAR(1),
  material_format VARCHAR(2),
  page_num INTEGER,
  page_format VARCHAR(2),
  order_num INTEGER,
  material_type VARCHAR(2),
  source_type VARCHAR(2),
  source_explain VARCHAR(500),
  PRIMARY KEY (row_guid)
);
CREATE INDEX ix_up_task_general_material_batch ON up_task_general_material (cd_batch);
CREATE TABLE up_pro_accept (
  row_guid VARCHAR(50) COLLATE "C" NOT NULL,
  cd_operation VARCHAR(2) NOT NULL,
  cd_time TIMESTAMP(0) WITHOUT TIME ZONE NOT NULL,
  cd_batch VARCHAR(32) COLLATE "C" NOT NULL,
  data_source VARCHAR(3),
  version INTEGER,
  project_no VARCHAR(50),
  catalog_code VARCHAR(12),
  task_code VARCHAR(36),
  task_handle_item VARCHAR(50),
  task_name VARCHAR(200),
  task_version INTEGER,
  project_name VARCHAR(200),
  project_type VARCHAR(2),
  apply_type VARCHAR(2),
  apply_date TIMESTAMP(0) WITHOUT TIME ZONE,
  accept_date TIMESTAMP(0) WITHOUT TIME ZONE,
  accept_doc_no VARCHAR(50),
  promise_date TIMESTAMP(0) WITHOUT TIME ZONE,
  org_code VARCHAR(64),
  org_name VARCHAR(100),
  handle_user_name VARCHAR(50),
  applyer_type VARCHAR(2),
  applyer_name VARCHAR(100),
  applyer_page_type VARCHAR(70),
  applyer_page_code VARCHAR(50),
  legal VARCHAR(50),
  contact_name VARCHAR(100),
  contact_type VARCHAR(70),
  contact_code VARCHAR(50),
  contact_mobile VARCHAR(11),
  address VARCHAR(200),
  zip_code VARCHAR(6),
  PRIMARY KEY (row_guid)
);
CREATE INDEX ix_up_pro_accept_batch ON up_pro_accept (cd_batch);
CREATE TABLE up_pro_process (
  row_guid VARCHAR(50) COLLATE "C" NOT NULL,
  cd_operation VARCHAR(2) NOT NULL,
  cd_time TIMESTAMP(0) WITHOUT TIME ZONE NOT NULL,
  cd_batch VARCHAR(32) COLLATE "C" NOT NULL,
  data_source VARCHAR(3),
  version INTEGER,
  project_no VARCHAR(50),
  process_name VARCHAR(100),
  event_name VARCHAR(2),
  handle_user_name VARCHAR(50),
  handle_explain VARCHAR(2000),
  event_start_time TIMESTAMP(0) WITHOUT TIME ZONE,
  event_end_time TIMESTAMP(0) WITHOUT TIME ZONE,
  remark VARCHAR(500),
  PRIMARY KEY (row_guid)
);
CREATE INDEX ix_up_pro_process_batch ON up_pro_process (cd_batch);
CREATE TABLE up_pro_special_procedure (
  row_guid VARCHAR(50) COLLATE "C" NOT NULL,
  cd_operation VARCHAR(2) NOT NULL,
  cd_time TIMESTAMP(0) WITHOUT TIME ZONE NOT NULL,
  cd_batch VARCHAR(32) COLLATE "C" NOT NULL,
  data_source VARCHAR(3),
  version INTEGER,
  project_no VARCHAR(50),
  special_type VARCHAR(2),
  special_name VARCHAR(100),
  special_reason VARCHAR(1000),
  special_time TIMESTAMP(0) WITHOUT TIME ZONE,
  end_time TIMESTAMP(0) WITHOUT TIME ZONE,
  special_explain VARCHAR(1000),
  handle_user VARCHAR(50),
  result VARCHAR(200),
  applyer_user_name VARCHAR(50),
  PRIMARY KEY (row_guid)
);
CREATE INDEX ix_up_pro_special_procedure_batch ON up_pro_special_procedure (cd_batch);
CREATE TABLE up_pro_result (
  row_guid VARCHAR(50) COLLATE "C" NOT NULL,
  cd_operation VARCHAR(2) NOT NULL,
  cd_time TIMESTAMP(0) WITHOUT TIME ZONE NOT NULL,
  cd_batch VARCHAR(32) COLLATE "C" NOT NULL,
  data_source VARCHAR(3),
  version INTEGER,
  project_no VARCHAR(50),
  result_date TIMESTAMP(0) WITHOUT TIME ZONE,
  result_type VARCHAR(2),
  result_explain VARCHAR(1000),
  result_cetr_name VARCHAR(200),
  result_cetr_no VARCHAR(50),
  handle_user_name VARCHAR(50),
  is_delivery_results VARCHAR(1),
  satisfaction VARCHAR(2),
  PRIMARY KEY (row_guid)
);
CREATE INDEX ix_up_pro_result_batch ON up_pro_result (cd_batch);
CREATE TABLE up_pro_evaluate (
  row_guid VARCHAR(50) COLLATE "C" NOT NULL,
  cd_operation VARCHAR(2) NOT NULL,
  cd_time TIMESTAMP(0) WITHOUT TIME ZONE NOT NULL,
  cd_batch VARCHAR(32) COLLATE "C" NOT NULL,
  data_source VARCHAR(3),
  version INTEGER,
  project_no VARCHAR(50),
  pf VARCHAR(2),
  satisfaction VARCHAR(2),
  eval_detail VARCHAR(200),
  writing_evaluation TEXT,
  assess_time TIMESTAMP(0) WITHOUT TIME ZONE,
  assess_number INTEGER,
  PRIMARY KEY (row_guid)
);
CREATE INDEX ix_up_pro_evaluate_batch ON up_pro_evaluate (cd_batch);
CREATE TABLE tb_batch (
  row_guid VARCHAR(50) COLLATE "C" NOT NULL,
  cd_operation VARCHAR(2) NOT NULL,
  cd_time TIMESTAMP(0) WITHOUT TIME ZONE NOT NULL,
  cd_batch VARCHAR(32) COLLATE "C" NOT NULL,
  data_source VARCHAR(3),
  version INTEGER,
  row_count INTEGER NOT NULL,
  PRIMARY KEY (row_guid),
  UNIQUE (cd_batch)
);
CREATE INDEX ix_tb_batch_cursor ON tb_batch (cd_time, row_guid);
CREATE TABLE tb_batch_row (
  cd_batch VARCHAR(32) COLLATE "C" NOT NULL,
  table_name VARCHAR(64) COLLATE "C" NOT NULL,
  row_guid VARCHAR(50) COLLATE "C" NOT NULL,
  PRIMARY KEY (cd_batch, table_name, row_guid)
);
CREATE TABLE tb_receipt (
  table_name VARCHAR(64) COLLATE "C" NOT NULL,
  row_guid VARCHAR(50) COLLATE "C" NOT NULL,
  row_cd_time VARCHAR(32) NOT NULL,
  cd_batch VARCHAR(32) COLLATE "C" NOT NULL,
  outcome VARCHAR(10) NOT NULL,
  rule_ids VARCHAR(1000) NOT NULL,
  message VARCHAR(2000) NOT NULL,
  findings TEXT NOT NULL,
  processed_at TIMESTAMP(0) WITHOUT TIME ZONE NOT NULL,
  PRIMARY KEY (table_name, row_guid, row_cd_time, cd_batch)
);
CREATE TABLE dn_task_directory (
  row_guid VARCHAR(50) COLLATE "C" NOT NULL,
  cd_operation VARCHAR(2) NOT NULL,
  cd_time TIMESTAMP(0) WITHOUT TIME ZONE NOT NULL,
  cd_batch VARCHAR(32) COLLATE "C" NOT NULL,
  data_source VARCHAR(3),
  version INTEGER,
  catalog_code VARCHAR(12),
  task_name VARCHAR(200),
  task_type VARCHAR(2),
  task_state VARCHAR(2),
  task_version INTEGER,
  use_level VARCHAR(11),
  by_law TEXT,
  plan_effective_date TIMESTAMP(0) WITHOUT TIME ZONE,
  plan_cancel_date TIMESTAMP(0) WITHOUT TIME ZONE,
  local_catalog_code VARCHAR(50),
  PRIMARY KEY (row_guid)
);
CREATE INDEX ix_dn_task_directory_batch ON dn_task_directory (cd_batch);
CREATE INDEX ix_dn_task_directory_cursor ON dn_task_directory (cd_time, row_guid);
