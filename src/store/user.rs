//! `users`: the people whose readings we process.

use sqlx::Row;
use uuid::Uuid;

use super::{uuid_of, Db, StoreError};

/// A user as the handlers need them.
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub email: Option<String>,
    /// IANA zone of the user's local time.
    pub timezone: String,
    /// The user's own A1C target in percent, if they set one.
    pub a1c_target: Option<f64>,
}

/// One user by id.
///
/// # Errors
///
/// The database failed.
pub async fn get(db: &Db, id: Uuid) -> Result<Option<User>, StoreError> {
    let sql = "SELECT id, email, timezone, a1c_target FROM users WHERE id = $1";
    match db {
        Db::Postgres(pool) => {
            let row = sqlx::query(sql).bind(id).fetch_optional(pool).await?;
            row.map(|r| {
                Ok(User {
                    id: r.try_get("id")?,
                    email: r.try_get("email")?,
                    timezone: r.try_get("timezone")?,
                    a1c_target: r.try_get("a1c_target")?,
                })
            })
            .transpose()
        }
        Db::Sqlite(pool) => {
            let row = sqlx::query(sql)
                .bind(id.to_string())
                .fetch_optional(pool)
                .await?;
            row.map(|r| {
                Ok(User {
                    id: uuid_of(r.try_get("id")?)?,
                    email: r.try_get("email")?,
                    timezone: r.try_get("timezone")?,
                    a1c_target: r.try_get("a1c_target")?,
                })
            })
            .transpose()
        }
    }
}

/// Creates the user if missing (with `timezone`); an existing user is left as is.
///
/// # Errors
///
/// The database failed.
pub async fn ensure(db: &Db, id: Uuid, timezone: &str) -> Result<User, StoreError> {
    let sql = "INSERT INTO users (id, timezone) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING";
    match db {
        Db::Postgres(pool) => {
            sqlx::query(sql)
                .bind(id)
                .bind(timezone)
                .execute(pool)
                .await?;
        }
        Db::Sqlite(pool) => {
            sqlx::query(sql)
                .bind(id.to_string())
                .bind(timezone)
                .execute(pool)
                .await?;
        }
    }
    get(db, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("user {id}")))
}

/// Sets the user's e-mail address and A1C target.
///
/// # Errors
///
/// The database failed.
pub async fn update_profile(
    db: &Db,
    id: Uuid,
    email: Option<&str>,
    a1c_target: Option<f64>,
) -> Result<(), StoreError> {
    let sql = "UPDATE users SET email = $1, a1c_target = $2 WHERE id = $3";
    match db {
        Db::Postgres(pool) => {
            sqlx::query(sql)
                .bind(email)
                .bind(a1c_target)
                .bind(id)
                .execute(pool)
                .await?;
        }
        Db::Sqlite(pool) => {
            let id = id.to_string();
            sqlx::query(sql)
                .bind(email)
                .bind(a1c_target)
                .bind(id)
                .execute(pool)
                .await?;
        }
    }
    Ok(())
}

/// Every user with at least one reading, as `(id, timezone)`, by id.
///
/// # Errors
///
/// The database failed, or a stored id is corrupt.
pub async fn with_readings(db: &Db) -> Result<Vec<(Uuid, String)>, StoreError> {
    let sql = "SELECT u.id, u.timezone FROM users u
               WHERE EXISTS (SELECT 1 FROM glucose_readings r WHERE r.user_id = u.id)
               ORDER BY u.id";
    match db {
        Db::Postgres(pool) => Ok(sqlx::query_as(sql).fetch_all(pool).await?),
        Db::Sqlite(pool) => {
            let rows: Vec<(String, String)> = sqlx::query_as(sql).fetch_all(pool).await?;
            rows.into_iter()
                .map(|(id, zone)| Ok((uuid_of(&id)?, zone)))
                .collect()
        }
    }
}
