/**
 * RELATION_FUNCTIONS lists the built-in functions that read the ROWS of relations they are told
 * about by an argument instead of a FROM clause, so the classifier counts them as reads (the one
 * place this list lives). `regclass` functions that only look at metadata (pg_relation_size,
 * pg_table_is_visible, pg_get_viewdef ...) are not here: they return no row content.
 *
 * SPEC: https://www.postgresql.org/docs/current/functions-xml.html#FUNCTIONS-XML-MAPPING
 *   "table_to_xml ( table regclass, nulls boolean, tableforest boolean, targetns text ) → xml",
 *   "query_to_xml ( query text, ... )", "cursor_to_xml ( cursor refcursor, count integer, ... )",
 *   "schema_to_xml ( schema name, ... )", "database_to_xml ( nulls boolean, ... )", and the
 *   `*_xmlschema` / `*_and_xmlschema` variants of each.
 * SPEC: https://www.postgresql.org/docs/current/textsearch-features.html#TEXTSEARCH-STATISTICS
 *   "ts_stat(sqlquery text, [ weights text, ] ...) ... sqlquery is a text value containing an
 *   SQL query which must return a single tsvector column."
 *
 * Kinds: `relation` (argument 0 names a table: a literal or a literal cast to regclass/text),
 * `query` (argument 0 is SQL text the function runs: classified like any statement when it is
 * a literal), `cursor` (reads an open cursor), `schema` (every table of a schema), `database`
 * (every table). What the classifier cannot name exactly is an unresolved read.
 */
export const RELATION_FUNCTIONS: ReadonlyMap<string, RelationFunctionKind> = new Map<string, RelationFunctionKind>([
  ['table_to_xml', 'relation'],
  ['table_to_xmlschema', 'relation'],
  ['table_to_xml_and_xmlschema', 'relation'],
  ['query_to_xml', 'query'],
  ['query_to_xmlschema', 'query'],
  ['query_to_xml_and_xmlschema', 'query'],
  ['ts_stat', 'query'],
  ['cursor_to_xml', 'cursor'],
  ['cursor_to_xmlschema', 'cursor'],
  ['schema_to_xml', 'schema'],
  ['schema_to_xmlschema', 'schema'],
  ['schema_to_xml_and_xmlschema', 'schema'],
  ['database_to_xml', 'database'],
  ['database_to_xmlschema', 'database'],
  ['database_to_xml_and_xmlschema', 'database'],
]);

/** RelationFunctionKind says how a RELATION_FUNCTIONS entry names what it reads. */
export type RelationFunctionKind = 'relation' | 'query' | 'cursor' | 'schema' | 'database';

/**
 * STATISTICS_RELATIONS are the catalog relations that hold VALUES sampled from other tables
 * (most common values, histogram bounds, MCV lists of extended statistics): reading them reads
 * every analysed table a little, so the classifier counts it as a read it cannot name (DESIGN:
 * "Statistics views (pg_stats) of masked tables are reads of those tables").
 * SPEC: https://www.postgresql.org/docs/current/view-pg-stats.html ("most_common_vals anyarray:
 * A list of the most common values in the column"), view-pg-stats-ext.html, catalog-pg-statistic.html.
 */
export const STATISTICS_RELATIONS: ReadonlySet<string> = new Set(['pg_stats', 'pg_stats_ext', 'pg_stats_ext_exprs', 'pg_statistic', 'pg_statistic_ext_data']);
