-- Who recorded each event (its Career-Recorded-By header: the subject of
-- the token it was recorded under), and so who recorded, last amended and
-- retracted each accomplishment. Events recorded before the header carry
-- none: '' for them. A read model a release before this one projected
-- from events that do carry it says '' until it is rebuilt.
ALTER TABLE person_events ADD COLUMN recorded_by text NOT NULL DEFAULT '';
ALTER TABLE accomplishments
    ADD COLUMN recorded_by  text NOT NULL DEFAULT '',
    ADD COLUMN amended_by   text NOT NULL DEFAULT '',
    ADD COLUMN retracted_by text NOT NULL DEFAULT '';
