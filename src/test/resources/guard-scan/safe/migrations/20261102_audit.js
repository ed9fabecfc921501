exports.up = function (knex) {
  return knex.schema.createTable("audit", (t) => t.increments());
};

exports.down = function (knex) {
  return knex.schema.dropTable("audit");
};
