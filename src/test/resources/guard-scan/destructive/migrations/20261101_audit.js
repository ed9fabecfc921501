exports.up = async function (knex) {
  await knex.raw("TRUNCATE TABLE audit_events");
};

exports.down = async function () {};
